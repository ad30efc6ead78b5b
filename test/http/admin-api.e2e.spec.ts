import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisKeys } from '../../src/projections/tallies/redis-keys.js';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';

let app: TestApp;
let project: { publicKey: string; secretKey: string };

beforeAll(async () => {
  app = await startTestApp();
  project = await createProjectOverHttp(app, 'admin', { likes: { kind: 'like' } });
});

afterAll(() => app.close());

const admin = (method: string, path: string) => call(app, method, path, { key: app.adminToken });

/** Reads until `accept` holds (or 5 s pass), answering the last read. */
const eventually = <T>(read: () => Promise<T>, accept: (value: T) => boolean) =>
  vi.waitFor(async () => {
    const value = await read();
    if (!accept(value)) throw new Error('not yet');
    return value;
  }, { timeout: 5000, interval: 50 });

describe('projection administration', () => {
  it('reports the tally projection with its checkpoint, the head and the lag', async () => {
    const vote = await call(app, 'POST', '/v1/polls/likes/votes', { key: project.publicKey, body: { target: 'p', voter: 'v', value: 1 } });
    const status = await eventually(
      () => admin('GET', '/v1/admin/projections'),
      (response) => response.body.projections[0].checkpoint === vote.body.position,
    );
    expect(status.body.projections).toEqual([
      { name: 'tallies', status: 'live', generation: 1, checkpoint: vote.body.position, partitions: [{ index: 0, checkpoint: vote.body.position }], head: vote.body.position, lag: { events: 0, seconds: 0 }, heldBackBy: null, rebuild: null, rebuildable: app.readModel === 'redis' },
    ]);
  });

  it('starts a rebuild with 202 and moves to the next generation', async (context) => {
    if (app.readModel !== 'redis') {
      expect((await admin('POST', '/v1/admin/projections/tallies/rebuild')).status).toBe(409);
      context.skip();
    }
    const started = await admin('POST', '/v1/admin/projections/tallies/rebuild');
    expect(started).toMatchObject({ status: 202, body: { name: 'tallies', status: 'rebuilding', generation: 2 } });
    const done = await eventually(() => admin('GET', '/v1/admin/projections'), (response) => response.body.projections[0].generation === 2);
    expect(done.body.projections[0]).toMatchObject({ generation: 2 });
    const tally = await call(app, 'GET', '/v1/polls/likes/tallies/p', { key: project.publicKey });
    expect(tally.body.count).toBe(1);
  });

  it('refuses a second rebuild while one runs', async (context) => {
    if (app.redis === undefined) context.skip();
    await app.redis!.client.set(RedisKeys.rebuildLockKey(app.redis!.prefix), 'another-process', { expiration: { type: 'PX', value: 3000 } });
    const second = await admin('POST', '/v1/admin/projections/tallies/rebuild');
    expect(second).toMatchObject({ status: 409, body: { type: 'urn:clickvote:problem:rebuild_in_progress' } });
    await app.redis!.client.del(RedisKeys.rebuildLockKey(app.redis!.prefix));
  });

  it('is closed to project keys', async () => {
    expect((await call(app, 'GET', '/v1/admin/projections', { key: project.secretKey })).status).toBe(403);
    expect((await call(app, 'GET', '/v1/admin/projections')).status).toBe(401);
  });
});
