import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pageRoutes } from '../../src/http/page-routes.js';

async function serve(demoPublicKey: string | undefined) {
  const server = express().use(pageRoutes(demoPublicKey)).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('the landing page', () => {
  let withDemo: Awaited<ReturnType<typeof serve>>;
  let withoutDemo: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    withDemo = await serve('cv_pk_demo123');
    withoutDemo = await serve(undefined);
  });
  afterAll(() => {
    withDemo.server.close();
    withoutDemo.server.close();
  });

  it('answers / with an HTML page linking the dashboard, the API section and /healthz', async () => {
    const response = await fetch(`${withoutDemo.baseUrl}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await response.text();
    for (const link of ['href="/dashboard"', 'href="/healthz"', '#http-api-v1"', 'href="/favicon.svg"']) expect(page).toContain(link);
  });

  it('links /demo only where the service has a demo project', async () => {
    expect(await (await fetch(`${withDemo.baseUrl}/`)).text()).toContain('href="/demo"');
    expect(await (await fetch(`${withoutDemo.baseUrl}/`)).text()).not.toContain('href="/demo"');
  });

  it('serves a favicon, also where browsers ask for /favicon.ico', async () => {
    for (const file of ['/favicon.svg', '/favicon.ico']) {
      const response = await fetch(`${withDemo.baseUrl}${file}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
      expect(await response.text()).toContain('<svg');
    }
  });
});
