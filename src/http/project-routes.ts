import { Schema } from 'effect';
import { Router } from 'express';
import type { Kysely } from 'kysely';
import { listProjects } from '../catalog/projects.js';
import { createProject } from '../commands/projects.js';
import { textProblem } from '../domain/identifiers.js';
import type { Database } from '../platform/database.js';
import { requireAdminToken } from './auth.js';
import { jsonBody } from './json-body.js';
import { decodeInput } from './validation.js';

const CreateProjectBody = Schema.Struct({
  name: Schema.Trim.pipe(Schema.filter((name) => textProblem(name, 200) ?? true)),
});

/** Projects, for the operator (ADMIN_TOKEN); with INTERNAL_PORT set, served there only. */
export function projectRoutes(db: Kysely<Database>, adminToken: string | undefined): Router {
  const router = Router();
  const admin = requireAdminToken(adminToken);

  router.post('/v1/projects', admin, ...jsonBody, async (req, res) => {
    const { name } = decodeInput(CreateProjectBody, req.body, 'body');
    res.status(201).json(await createProject(db, name));
  });

  router.get('/v1/projects', admin, async (_req, res) => {
    const projects = await listProjects(db);
    res.json({ projects: projects.map((project) => ({ ...project, createdAt: project.createdAt.toISOString() })) });
  });

  return router;
}
