import { randomBytes } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { ClickvoteError } from '../domain/errors.js';
import { identifierProblem } from '../domain/identifiers.js';
import type { TokenKey } from '../catalog/projects.js';

export const maxVoterTokenSeconds = 30 * 24 * 3600;
/** Clocks of the site's backend and of this service may differ by this much. */
const clockToleranceSeconds = 60;

export interface VoterToken {
  readonly token: string;
  readonly voter: string;
  readonly expiresAt: Date;
}

/**
 * Voter tokens are compact HS256 JWTs (`sub` voter, `aud` project id, `iat`, `exp`). The HMAC key
 * is the SHA-256 digest of a live secret key, not the key itself: only that digest is stored, and a
 * site derives it from the secret key it holds in one line (see the README).
 */
export async function signVoterToken(key: TokenKey, projectId: string, voter: string, ttlSeconds: number, now = new Date()): Promise<VoterToken> {
  const issuedAt = Math.floor(now.getTime() / 1000);
  const expiresAt = issuedAt + Math.min(ttlSeconds, maxVoterTokenSeconds);
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: key.fingerprint })
    .setSubject(voter)
    .setAudience(projectId)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(key.secret);
  return { token, voter, expiresAt: new Date(expiresAt * 1000) };
}

export function randomVoterId(): string {
  return `anon-${randomBytes(16).toString('base64url')}`;
}

/**
 * The voter a token vouches for. Any live secret key of the project may have signed it, so a
 * rotated key's tokens keep working until that key is revoked. Every failure is the same 401,
 * with a detail that says what was wrong.
 */
export async function verifyVoterToken(token: string, projectId: string, keys: readonly TokenKey[], now = new Date()): Promise<string> {
  for (const key of keys) {
    try {
      const { payload } = await jwtVerify(token, key.secret, {
        algorithms: ['HS256'],
        audience: projectId,
        requiredClaims: ['sub', 'exp', 'iat'],
        currentDate: now,
        clockTolerance: clockToleranceSeconds,
      });
      if (payload.exp! > now.getTime() / 1000 + maxVoterTokenSeconds + clockToleranceSeconds) throw invalid('expires more than 30 days ahead');
      const problem = identifierProblem(payload.sub!);
      if (problem !== undefined) throw invalid(`has a subject that ${problem}`);
      return payload.sub!;
    } catch (error) {
      if (error instanceof errors.JWSSignatureVerificationFailed) continue;
      throw error instanceof ClickvoteError ? error : invalid(reasonOf(error));
    }
  }
  throw invalid('is not signed by any live secret key of this project');
}

function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    return error.claim === 'aud' ? 'is for another project' : `has a missing or invalid "${error.claim}" claim`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'must be signed with HS256';
  return 'is not a compact JWT';
}

function invalid(reason: string): ClickvoteError {
  return new ClickvoteError('voter_token_invalid', `The Clickvote-Voter token ${reason}.`);
}
