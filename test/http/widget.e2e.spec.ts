import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pageRoutes } from '../../src/http/page-routes.js';
import { call, startTestApp, type TestApp } from '../support/app.js';

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(() => app.close());

describe('the embeddable widget', () => {
  it('is served as JavaScript under 8 KB gzipped', async () => {
    const response = await fetch(`${app.baseUrl}/widget.js`);
    expect(response.headers.get('content-type')).toMatch(/^application\/javascript/);
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.toString()).toContain('data-clickvote-poll');
    expect(gzipSync(body, { level: 9 }).length).toBeLessThan(8 * 1024);
  });

  it('can call the API from any origin: preflights pass and answers carry CORS headers', async () => {
    const preflight = await fetch(`${app.baseUrl}/v1/polls/likes/votes`, {
      method: 'OPTIONS',
      headers: { origin: 'https://blog.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    const refused = await call(app, 'GET', '/v1/polls', { headers: { origin: 'https://blog.example' } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('has a demo page on the demo project only', async () => {
    expect((await fetch(`${app.baseUrl}/demo`)).status).toBe(404);
    const server = express().use(pageRoutes('cv_pk_demo123')).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const page = await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/demo`)).text();
      expect(page).toContain('data-clickvote-key="cv_pk_demo123"');
      for (const poll of ['likes', 'votes', 'stars']) expect(page).toContain(`data-clickvote-poll="${poll}"`);
    } finally {
      server.close();
    }
  });
});
