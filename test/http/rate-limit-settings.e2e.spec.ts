import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';

let app: TestApp;
let unlimited: TestApp;

beforeAll(async () => {
  [app, unlimited] = await Promise.all([startTestApp({ trustProxy: true }), startTestApp({ trustProxy: true, rateLimits: 'off' })]);
});

afterAll(() => Promise.all([app.close(), unlimited.close()]));

const vote = (on: TestApp, key: string, address: string, voter: string) =>
  call(on, 'POST', '/v1/polls/likes/votes', { key, body: { target: 'post', voter, value: 1 }, headers: { 'x-forwarded-for': address } });

describe('rate limit settings', () => {
  it('takes a project\'s own limit from PATCH, and goes back to the deployment\'s on null', async () => {
    const project = await createProjectOverHttp(app, 'strict', { likes: { kind: 'like' } });
    const patched = await call(app, 'PATCH', '/v1/projects/current', { key: project.secretKey, body: { rateLimits: { votesPerAddress: 3 } } });
    expect(patched.body.rateLimits).toEqual({ enabled: true, votesPerAddress: 3, votesPerVoter: 30, votersPerAddress: 10 });
    for (let i = 0; i < 3; i += 1) expect((await vote(app, project.publicKey, '203.0.113.1', `v${i}`)).status).toBe(200);
    const refused = await vote(app, project.publicKey, '203.0.113.1', 'v3');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit-policy')).toContain('"votes-per-address";q=3;w=60');

    const reset = await call(app, 'PATCH', '/v1/projects/current', { key: project.secretKey, body: { rateLimits: { votesPerAddress: null } } });
    expect(reset.body.rateLimits.votesPerAddress).toBe(60);
    expect((await vote(app, project.publicKey, '203.0.113.1', 'v4')).status).toBe(200);
    expect((await call(app, 'PATCH', '/v1/projects/current', { key: project.secretKey, body: { rateLimits: { votesPerAddress: 0 } } })).status).toBe(400);
  });

  it('never limits the secret key, nor reads', async () => {
    const project = await createProjectOverHttp(app, 'server-side', { likes: { kind: 'like' } });
    await call(app, 'PATCH', '/v1/projects/current', { key: project.secretKey, body: { rateLimits: { votesPerAddress: 1 } } });
    for (let i = 0; i < 5; i += 1) {
      const response = await vote(app, project.secretKey, '203.0.113.2', `s${i}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('ratelimit')).toBeNull();
    }
    for (let i = 0; i < 5; i += 1) expect((await call(app, 'GET', '/v1/polls/likes/tallies/post', { key: project.publicKey, headers: { 'x-forwarded-for': '203.0.113.2' } })).status).toBe(200);
  });

  it('are all off for a deployment with RATE_LIMITS=off', async () => {
    const project = await createProjectOverHttp(unlimited, 'load', { likes: { kind: 'like' } });
    const statuses = new Set<number>();
    for (let i = 0; i < 70; i += 1) statuses.add((await vote(unlimited, project.publicKey, '203.0.113.3', `l${i}`)).status);
    expect([...statuses]).toEqual([200]);
    expect((await call(unlimited, 'GET', '/v1/projects/current', { key: project.secretKey })).body.rateLimits).toMatchObject({ enabled: false });
  });
});
