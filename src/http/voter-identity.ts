import type { Request } from 'express';
import type { AuthenticatedProject } from '../catalog/projects.js';
import { verifyVoterToken } from '../commands/voter-tokens.js';
import { ClickvoteError } from '../domain/errors.js';
import { needsVoterToken, type VoterClaim, voterToReadAs, voterToVoteAs } from '../domain/voter-policy.js';

export const voterTokenHeader = 'clickvote-voter';

/** The voter a vote is cast as, from the body's `voter` and, under signed or anonymous, the token. */
export async function voterForVote(req: Request, project: AuthenticatedProject, named: string | undefined): Promise<string> {
  return withPolicy(project, async () => voterToVoteAs(await claimOf(req, project, named)));
}

/** The voter whose own value a read includes (`?voter=`), checked the same way. */
export async function voterForRead(req: Request, project: AuthenticatedProject, named: string | undefined): Promise<string | undefined> {
  if (named === undefined) return undefined;
  return withPolicy(project, async () => voterToReadAs(await claimOf(req, project, named)));
}

async function claimOf(req: Request, project: AuthenticatedProject, named: string | undefined): Promise<VoterClaim> {
  const claim = { policy: project.voterPolicy, access: project.access, named, tokenSubject: undefined };
  const token = req.get(voterTokenHeader);
  if (token === undefined || !needsVoterToken(project.voterPolicy, project.access)) return claim;
  return { ...claim, tokenSubject: await verifyVoterToken(token.trim(), project.id, project.tokenKeys) };
}

/** A refused token says which policy the project has, so a widget knows to mint (anonymous) or to sign in (signed). */
async function withPolicy<T>(project: AuthenticatedProject, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ClickvoteError && error.code === 'voter_token_invalid') {
      throw new ClickvoteError(error.code, error.message, error.fieldProblems, { voterPolicy: project.voterPolicy });
    }
    throw error;
  }
}
