import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Router } from 'express';
import { ClickvoteError } from '../domain/errors.js';
import { staticAsset } from './static-asset.js';

const assets = path.join(import.meta.dirname, 'assets');
// Run from src/ (tests, tsx) the bundled dashboard is found in the build output.
const built = path.resolve(import.meta.dirname, '../../dist/src/http/assets');
const widget = staticAsset(readFileSync(path.join(assets, 'widget.js')), 'application/javascript');
/** The versioned path of the widget: cached for a year, since its name changes with its content. */
export const widgetPath = `/widget.${widget.hash}.js`;
const demo = readFileSync(path.join(assets, 'demo.html'), 'utf8');
const dashboard = readFileSync(path.join(assets, 'dashboard.html'));
const landing = readFileSync(path.join(assets, 'index.html'), 'utf8');
const favicon = readFileSync(path.join(assets, 'favicon.svg'));

function bundled(name: string): Buffer {
  const file = [path.join(assets, name), path.join(built, name)].find((candidate) => existsSync(candidate));
  if (file === undefined) throw new ClickvoteError('unavailable', 'The dashboard is not built: run npm run build.');
  return readFileSync(file);
}

const nosniff = { 'x-content-type-options': 'nosniff' };

/**
 * The pages run only their own scripts, talk only to this server and cannot be framed: the
 * dashboard holds a secret key. Their inline <style> blocks are allowed by hash.
 */
function pageHeaders(html: string): Record<string, string> {
  const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map(([, css]) => `'sha256-${createHash('sha256').update(css!).digest('base64')}'`);
  const policy = [
    "default-src 'none'",
    "script-src 'self'",
    ["style-src 'self'", ...styles].join(' '),
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ];
  return { ...nosniff, 'content-security-policy': policy.join('; '), 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' };
}

/** The landing page, the embeddable widget, the dashboard, and the demo page when a demo project exists. */
export function pageRoutes(demoPublicKey: string | undefined): Router {
  const router = Router();
  // Without a demo project the landing page does not offer one.
  const landingPage = demoPublicKey === undefined ? landing.replace(/<!--demo-->.*<!--\/demo-->\n?/s, '') : landing;
  const landingHeaders = pageHeaders(landingPage);
  const dashboardHeaders = pageHeaders(dashboard.toString());
  router.get('/', (_req, res) => {
    res.type('html').set(landingHeaders).send(landingPage);
  });
  router.get(['/favicon.svg', '/favicon.ico'], (_req, res) => {
    res.type('image/svg+xml').set('cache-control', 'public, max-age=86400').send(favicon);
  });
  router.get(widgetPath, widget.handler('public, max-age=31536000, immutable'));
  // The unversioned alias in the README's snippet: sites that paste it get updates within minutes.
  router.get('/widget.js', widget.handler('public, max-age=300'));
  router.get('/dashboard', (_req, res) => {
    res.type('html').set(dashboardHeaders).send(dashboard);
  });
  router.get('/dashboard.js', (_req, res) => {
    res.type('application/javascript').set(nosniff).send(bundled('dashboard.js'));
  });
  router.get('/dashboard.css', (_req, res) => {
    res.type('text/css').set(nosniff).send(bundled('dashboard.css'));
  });
  if (demoPublicKey !== undefined) {
    const page = demo.replace('__PUBLIC_KEY__', demoPublicKey).replace('/widget.js', widgetPath);
    const demoHeaders = pageHeaders(page);
    router.get('/demo', (_req, res) => {
      res.type('html').set(demoHeaders).send(page);
    });
  }
  return router;
}
