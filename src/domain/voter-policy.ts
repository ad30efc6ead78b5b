import { ClickvoteError } from './errors.js';

/**
 * How a project knows who votes. `open`: any voter id the caller names (trusting the page);
 * `signed`: the site's backend vouches for each voter with a token; `anonymous`: the service
 * mints random voters, one per browser, and limits how fast one address can mint them.
 */
export const voterPolicies = ['open', 'signed', 'anonymous'] as const;
export type VoterPolicy = (typeof voterPolicies)[number];

export type KeyAccess = 'public' | 'secret';

export interface VoterClaim {
  readonly policy: VoterPolicy;
  readonly access: KeyAccess;
  /** The voter named in the body or the query, if any. */
  readonly named: string | undefined;
  /** The subject of a valid voter token, if the request carried one. */
  readonly tokenSubject: string | undefined;
}

/** Whether requests with this key must prove who they vote or read as. */
export function needsVoterToken(policy: VoterPolicy, access: KeyAccess): boolean {
  return policy !== 'open' && access === 'public';
}

/**
 * The voter a vote is cast as. Secret keys (server to server) and open projects name any voter;
 * otherwise the voter is the token's subject, and a named voter must be that same one.
 */
export function voterToVoteAs(claim: VoterClaim): string {
  if (!needsVoterToken(claim.policy, claim.access)) {
    if (claim.named === undefined) throw new ClickvoteError('validation_failed', 'The body is not valid.', [{ field: 'voter', message: 'is missing' }]);
    return claim.named;
  }
  if (claim.tokenSubject === undefined) throw missingToken(claim.policy);
  if (claim.named !== undefined && claim.named !== claim.tokenSubject) throw otherVoter();
  return claim.tokenSubject;
}

/** The voter whose own value a read may include; reads that name no voter need no token. */
export function voterToReadAs(claim: VoterClaim): string | undefined {
  if (claim.named === undefined || !needsVoterToken(claim.policy, claim.access)) return claim.named;
  if (claim.tokenSubject === undefined) throw missingToken(claim.policy);
  if (claim.named !== claim.tokenSubject) throw otherVoter();
  return claim.named;
}

function missingToken(policy: VoterPolicy): ClickvoteError {
  const how = policy === 'signed' ? 'a token signed by the site' : 'a token from POST /v1/voters';
  return new ClickvoteError('voter_token_invalid', `This project's voters are ${policy}: send "Clickvote-Voter: <token>" with ${how}.`);
}

function otherVoter(): ClickvoteError {
  return new ClickvoteError('forbidden', 'The Clickvote-Voter token is for another voter: a token only votes and reads as its own subject.');
}
