import { createHmac } from 'node:crypto';
import type { Request } from 'express';
import type { AuthenticatedProject } from '../catalog/projects.js';

const maxUserAgentLength = 200;
const maxRememberedAddresses = 10_000;

export type AuditMetadata = (req: Request, project: AuthenticatedProject) => Record<string, unknown>;
export type ClientAddressHash = (req: Request) => string | undefined;

/**
 * The client address is kept only as a keyed hash: the same address gives the same hash (useful
 * against abuse: rate limits count by it, moderation retracts by it), but the address itself is
 * never written anywhere. Each address's hash is remembered, so a busy client costs one HMAC.
 */
export function clientAddressHasher(clientAddressKey: Buffer): ClientAddressHash {
  const known = new Map<string, string>();
  return (req) => {
    const address = req.ip;
    if (address === undefined) return undefined;
    let hash = known.get(address);
    if (hash === undefined) {
      hash = createHmac('sha256', clientAddressKey).update(address).digest('base64url').slice(0, 22);
      if (known.size >= maxRememberedAddresses) known.clear();
      known.set(address, hash);
    }
    return hash;
  };
}

/** What every event records about the request that cast it. */
export function auditMetadataWith(clientAddressHash: ClientAddressHash): AuditMetadata {
  return (req, project) => ({
    source: 'http',
    requestId: String(req.id),
    keyId: project.keyId,
    userAgent: req.get('user-agent')?.slice(0, maxUserAgentLength),
    clientAddressHash: clientAddressHash(req),
  });
}
