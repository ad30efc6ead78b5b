import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';

let app: TestApp;
let project: { publicKey: string; secretKey: string };

beforeAll(async () => {
  app = await startTestApp();
  project = await createProjectOverHttp(app, 'analytics', { votes: { kind: 'updown' } });
});

afterAll(() => app.close());

const vote = (target: string, voter: string, value: number) =>
  call(app, 'POST', '/v1/polls/votes/votes', { key: project.publicKey, body: { target, voter, value } });
const analytics = (query: string) => call(app, 'GET', `/v1/analytics/polls/votes?${query}`, { key: project.secretKey });

describe('poll analytics', () => {
  it('counts votes cast, changed and retracted per bucket, with the net change, from the log', async () => {
    await vote('a', 'ann', 1); // cast +1
    await vote('a', 'bob', 1); // cast +1
    await vote('a', 'ann', -1); // changed -2
    await vote('b', 'bob', -1); // cast -1
    await vote('a', 'bob', 0); // retracted -1
    const { status, body } = await analytics('range=1d');
    expect(status).toBe(200);
    expect(body).toMatchObject({ poll: 'votes', range: '1d', bucket: 'hour', target: null });
    expect(body.buckets.length).toBeGreaterThanOrEqual(24);
    const totals = body.buckets.reduce(
      (sum: Record<string, number>, b: Record<string, number>) => ({ cast: sum.cast! + b.cast!, changed: sum.changed! + b.changed!, retracted: sum.retracted! + b.retracted!, net: sum.net! + b.net! }),
      { cast: 0, changed: 0, retracted: 0, net: 0 },
    );
    expect(totals).toEqual({ cast: 3, changed: 1, retracted: 1, net: -2 });
    const onlyA = await analytics('range=7d&target=a');
    expect(onlyA.body.bucket).toBe('day');
    expect(onlyA.body.buckets.at(-1)).toMatchObject({ cast: 2, changed: 1, retracted: 1, net: -1 });
  });

  it.each([
    ['an unknown range', 'range=2w', 400],
    ['an unknown bucket', 'bucket=minute', 400],
  ])('rejects %s', async (_, query, status) => {
    expect((await analytics(query)).status).toBe(status);
  });

  it('is for secret keys only', async () => {
    expect((await call(app, 'GET', '/v1/analytics/polls/votes', { key: project.publicKey })).status).toBe(403);
  });
});
