import { Router } from 'express';
import type { ProjectionAdmin } from '../projections/operations/projection-admin.js';
import { requireAdminToken } from './auth.js';

export function adminRoutes(adminToken: string | undefined, projections: ProjectionAdmin): Router {
  const router = Router();
  const admin = requireAdminToken(adminToken);

  router.get('/v1/admin/projections', admin, async (_req, res) => {
    res.json({ projections: await projections.status() });
  });

  router.post('/v1/admin/projections/tallies/rebuild', admin, async (_req, res) => {
    const { generation } = await projections.startRebuild();
    res.status(202).json({ name: 'tallies', status: 'rebuilding', generation });
  });

  return router;
}
