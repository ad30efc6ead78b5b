import { createHmac } from 'node:crypto';
import type { Request } from 'express';
import type { AuthenticatedProject } from '../commands/projects.js';

const maxUserAgentLength = 200;

export type AuditMetadata = (req: Request, project: AuthenticatedProject) => Record<string, unknown>;

/**
 * What every event records about the request that cast it. The client address is stored only as
 * a keyed hash: the same address gives the same hash (useful against abuse), but the address
 * itself is never written anywhere.
 */
export function auditMetadataWith(clientAddressKey: Buffer): AuditMetadata {
  return (req, project) => ({
    source: 'http',
    requestId: String(req.id),
    keyId: project.keyId,
    userAgent: req.get('user-agent')?.slice(0, maxUserAgentLength),
    clientAddressHash:
      req.ip === undefined ? undefined : createHmac('sha256', clientAddressKey).update(req.ip).digest('base64url').slice(0, 22),
  });
}
