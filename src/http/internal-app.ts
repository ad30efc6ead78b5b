import express, { type Express } from 'express';
import { adminRoutes } from './admin-routes.js';
import type { AppDependencies } from './app.js';
import { healthRoutes } from './health-routes.js';
import { problemHandler, transportError } from './problem.js';
import { projectRoutes } from './project-routes.js';
import { requestLog } from './request-log.js';

/** What only operators need: with INTERNAL_PORT set these are served there and nowhere else. */
export const internalPaths = ['/metrics', '/v1/admin/*rest', '/v1/projects'];

export const notServedHere = (): never => {
  throw transportError('route_not_found', 'There is no such route; see the README for the API.');
};

/** The app on INTERNAL_PORT: health, metrics and the admin API (projects and projections). */
export function createInternalApp(deps: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog(deps.logger));
  app.use(healthRoutes(deps.db, deps.registry, deps.readiness ?? { stopping: () => false }));
  if (deps.appender !== undefined) app.use(projectRoutes(deps.db, deps.adminToken));
  if (deps.projections !== undefined) app.use(adminRoutes(deps.adminToken, deps.projections));
  app.use(notServedHere);
  app.use(problemHandler);
  return app;
}
