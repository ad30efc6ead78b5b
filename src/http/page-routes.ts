import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Router } from 'express';

const assets = path.join(import.meta.dirname, 'assets');
const widget = readFileSync(path.join(assets, 'widget.js'));
const demo = readFileSync(path.join(assets, 'demo.html'), 'utf8');

/** The embeddable widget, and the demo page when a demo project exists. */
export function pageRoutes(demoPublicKey: string | undefined): Router {
  const router = Router();
  router.get('/widget.js', (_req, res) => {
    res.type('application/javascript').set('cache-control', 'public, max-age=300').send(widget);
  });
  if (demoPublicKey !== undefined) {
    const page = demo.replace('__PUBLIC_KEY__', demoPublicKey);
    router.get('/demo', (_req, res) => {
      res.type('html').send(page);
    });
  }
  return router;
}
