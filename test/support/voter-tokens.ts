import { createHash, createHmac } from 'node:crypto';

/**
 * Signs a JWT the way a site's backend would, with nothing from this project: HS256 over the
 * SHA-256 digest of the secret key. Header and claims can be anything, to forge bad tokens too.
 */
export function signJwt(claims: Record<string, unknown>, secretKey: string, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const part = (json: unknown) => Buffer.from(JSON.stringify(json)).toString('base64url');
  const unsigned = `${part(header)}.${part(claims)}`;
  const key = createHash('sha256').update(secretKey).digest();
  return `${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`;
}

export function voterClaims(voter: string, projectId: string, ttlSeconds = 3600, now = Math.floor(Date.now() / 1000)) {
  return { sub: voter, aud: projectId, iat: now, exp: now + ttlSeconds };
}
