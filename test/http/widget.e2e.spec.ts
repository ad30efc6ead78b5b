import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pageRoutes, widgetPath } from '../../src/http/page-routes.js';
import { call, startTestApp, type TestApp } from '../support/app.js';

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(() => app.close());

function expectPageProtections(headers: Headers): void {
  const policy = headers.get('content-security-policy') ?? '';
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).toContain("script-src 'self'");
  expect(policy).toContain("default-src 'none'");
  expect(headers.get('x-content-type-options')).toBe('nosniff');
}

describe('the pages', () => {
  it('the dashboard allows only its own scripts and styles, and no framing', async () => {
    const response = await fetch(`${app.baseUrl}/dashboard`);
    expect(response.status).toBe(200);
    expectPageProtections(response.headers);
    expect(response.headers.get('content-security-policy')).toMatch(/style-src 'self' 'sha256-[\w+/=]+'/);
    for (const asset of ['/widget.js', '/dashboard.js', '/dashboard.css']) {
      expect((await fetch(app.baseUrl + asset)).headers.get('x-content-type-options')).toBe('nosniff');
    }
  });
});

describe('the embeddable widget', () => {
  // node:http instead of fetch, which would decompress the body and hide its size on the wire.
  async function getRaw(path: string, headers: Record<string, string>) {
    const response = await new Promise<import('node:http').IncomingMessage>((resolve, reject) =>
      import('node:http').then(({ get }) => get(`${app.baseUrl}${path}`, { headers }, resolve).on('error', reject)),
    );
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    return { status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) };
  }

  it('is served compressed as the client accepts, at most 8 KB gzipped on the wire', async () => {
    const gzip = await getRaw('/widget.js', { 'accept-encoding': 'gzip' });
    expect(gzip.headers['content-type']).toMatch(/^application\/javascript/);
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gzip.headers.vary).toContain('Accept-Encoding');
    expect(gzip.body.length).toBeLessThanOrEqual(8 * 1024);
    expect(gunzipSync(gzip.body).toString()).toContain('data-clickvote-poll');
    const brotli = await getRaw('/widget.js', { 'accept-encoding': 'gzip, br' });
    expect(brotli.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(brotli.body).equals(gunzipSync(gzip.body))).toBe(true);
    const plain = await getRaw('/widget.js', {});
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(gunzipSync(gzip.body))).toBe(true);
  });

  it('is cached for a year on its versioned path, for minutes on /widget.js, and revalidated by ETag', async () => {
    expect(widgetPath).toMatch(/^\/widget\.[0-9a-f]{10}\.js$/);
    const versioned = await getRaw(widgetPath, { 'accept-encoding': 'gzip' });
    expect(versioned.status).toBe(200);
    expect(versioned.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const alias = await getRaw('/widget.js', { 'accept-encoding': 'gzip' });
    expect(alias.headers['cache-control']).toBe('public, max-age=300');
    expect(alias.body.equals(versioned.body)).toBe(true);
    const etag = String(alias.headers.etag);
    expect(etag).toMatch(/^"[0-9a-f]{10}-gzip"$/);
    expect((await getRaw('/widget.js', { 'accept-encoding': 'gzip', 'if-none-match': etag })).status).toBe(304);
    expect((await getRaw('/widget.js', { 'accept-encoding': 'br', 'if-none-match': etag })).status).toBe(200);
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
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/demo`);
      expectPageProtections(response.headers);
      const page = await response.text();
      expect(page).toContain('data-clickvote-key="cv_pk_demo123"');
      expect(page).toContain(`src="${widgetPath}"`);
      for (const poll of ['likes', 'votes', 'stars']) expect(page).toContain(`data-clickvote-poll="${poll}"`);
    } finally {
      server.close();
    }
  });
});
