import { Schema } from 'effect';
import { Router } from 'express';
import type { Kysely } from 'kysely';
import { createProject } from '../commands/projects.js';
import { textProblem } from '../domain/identifiers.js';
import type { Database } from '../platform/database.js';
import { requireAdminToken } from './auth.js';
import { jsonBody } from './json-body.js';
import { decodeInput } from './validation.js';

const CreateProjectBody = Schema.Struct({
  name: Schema.Trim.pipe(Schema.filter((name) => textProblem(name, 200) ?? true)),
});

export function projectRoutes(db: Kysely<Database>, adminToken: string | undefined): Router {
  const router = Router();
  router.post('/v1/projects', requireAdminToken(adminToken), ...jsonBody, async (req, res) => {
    const { name } = decodeInput(CreateProjectBody, req.body, 'body');
    res.status(201).json(await createProject(db, name));
  });
  return router;
}
