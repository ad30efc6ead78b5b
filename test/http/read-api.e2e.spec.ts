import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tallyIdOf } from '../../src/domain/identity-keys.js';
import { recomputeTallies } from '../../src/projections/log-queries/recompute-tallies.js';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';

let app: TestApp;
let project: { id: string; publicKey: string; secretKey: string };

beforeAll(async () => {
  // More votes a minute from one address than the default limit allows: load, so no rate limits.
  app = await startTestApp({ rateLimits: 'off' });
  project = await createProjectOverHttp(app, 'reads', { likes: { kind: 'like' }, votes: { kind: 'updown' }, stars: { kind: 'rating' } });
});

afterAll(() => app.close());

const vote = (poll: string, target: string, voter: string, value: number) =>
  call(app, 'POST', `/v1/polls/${poll}/votes`, { key: project.publicKey, body: { target, voter, value } });
const read = (path: string) => call(app, 'GET', path, { key: project.publicKey });

describe(`reading tallies (${process.env.TEST_REDIS_URL === undefined ? 'read model may be in-process' : 'Redis read model'})`, () => {
  it('shows a vote at once when asked with the position the vote returned', async () => {
    const cast = await vote('stars', 'film-1', 'ann', 4);
    const tally = await read(`/v1/polls/stars/tallies/film-1?voter=ann&minPosition=${cast.body.position}`);
    expect(tally).toMatchObject({
      status: 200,
      body: { poll: 'stars', kind: 'rating', target: 'film-1', count: 1, sum: 4, up: 1, down: 0, average: 4, histogram: { '4': 1 }, voterValue: 4 },
    });
    expect(tally.body.position).toMatch(/^\d+\.\d+$/);
    // Nothing hashed per answer: a tally changes with every vote, so an ETag would buy nothing.
    expect(tally.headers.get('etag')).toBeNull();
    expect(cast.headers.get('etag')).toBeNull();
  });

  it('answers an unknown target with a zero tally and an unknown poll with 404', async () => {
    expect((await read('/v1/polls/likes/tallies/nobody-voted?voter=x')).body).toMatchObject({ count: 0, sum: 0, average: null, histogram: {}, voterValue: 0 });
    expect((await read('/v1/polls/nope/tallies/x')).status).toBe(404);
  });

  it('gives 503 with Retry-After when the projection has not reached a position in time', async () => {
    const response = await read('/v1/polls/likes/tallies/x?minPosition=999999999.1&waitMs=50');
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
  });

  it('reads a batch of tallies in request order', async () => {
    const last = await vote('votes', 'b', 'ann', 1);
    await vote('votes', 'a', 'ann', -1);
    await read(`/v1/polls/votes/tallies/b?minPosition=${last.body.position}`);
    const done = await vote('votes', 'c', 'bob', 1);
    await read(`/v1/polls/votes/tallies/c?minPosition=${done.body.position}`);
    const batch = await read('/v1/polls/votes/tallies?target=c&target=zz&target=a&target=b&voter=ann');
    expect(batch.body.tallies.map((t: { target: string; sum: number; voterValue: number }) => [t.target, t.sum, t.voterValue])).toEqual([
      ['c', 1, 0],
      ['zz', 0, 0],
      ['a', -1, -1],
      ['b', 1, 1],
    ]);
  });

  it('ranks the top targets by every order the kind offers', async () => {
    for (const [target, voters] of [['p1', 3], ['p2', 1], ['p3', 2]] as const) {
      for (let i = 0; i < voters; i += 1) await vote('likes', target, `fan${i}`, 1);
    }
    const last = await vote('likes', 'p2', 'late', 1);
    await read(`/v1/polls/likes/tallies/p2?minPosition=${last.body.position}`);
    const top = await read('/v1/polls/likes/top?order=count&limit=2');
    expect(top.body.items.map((item: { target: string; count: number }) => [item.target, item.count])).toEqual([
      ['p1', 3],
      ['p3', 2],
    ]);
    expect((await read('/v1/polls/likes/top?order=wilson')).status).toBe(400);
  });

  it.each([
    ['a batch of 101 targets', `/v1/polls/likes/tallies?${Array.from({ length: 101 }, (_, i) => `target=t${i}`).join('&')}`, 'target'],
    ['a batch without targets', '/v1/polls/likes/tallies', 'target'],
    ['a malformed minPosition', '/v1/polls/likes/tallies/x?minPosition=abc', 'minPosition'],
    ['a waitMs over 10 s', '/v1/polls/likes/tallies/x?minPosition=1.1&waitMs=60000', 'waitMs'],
    ['an unknown query parameter', '/v1/polls/likes/tallies/x?foo=1', 'foo'],
    ['an unknown order', '/v1/polls/likes/top?order=hot', 'order'],
    ['a limit of 0', '/v1/polls/likes/top?limit=0', 'limit'],
    ['an over-long target', `/v1/polls/likes/tallies/${'x'.repeat(257)}`, 'target'],
  ])('rejects %s with 400 naming the field', async (_, path, field) => {
    const response = await read(path);
    expect(response.status).toBe(400);
    expect(response.body.errors).toContainEqual(expect.objectContaining({ field }));
  });

  it('ends 200 concurrent votes from 50 voters on 5 targets with tallies equal to the log', async () => {
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => vote('votes', `hot-${i % 5}`, `voter-${Math.floor(Math.random() * 50)}`, [-1, 0, 1][i % 3]!)),
    );
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    const newest = answers.map((answer) => answer.body.position as string | null).filter((p): p is string => p !== null).sort(byPosition).at(-1)!;
    await read(`/v1/polls/votes/tallies/hot-0?minPosition=${newest}&waitMs=5000`);
    const batch = await read('/v1/polls/votes/tallies?target=hot-0&target=hot-1&target=hot-2&target=hot-3&target=hot-4');
    const expected = await recomputeTallies(app.database.db, project.id);
    for (const tally of batch.body.tallies) {
      const want = expected.get(tallyIdOf({ projectId: project.id, poll: 'votes', target: tally.target }))?.tally ?? { count: 0, sum: 0, up: 0, down: 0, histogram: {} };
      expect({ target: tally.target, count: tally.count, sum: tally.sum, up: tally.up, down: tally.down, histogram: tally.histogram }).toEqual({ target: tally.target, ...want });
    }
  });
});

function byPosition(a: string, b: string): number {
  const [ta, pa] = a.split('.').map(BigInt);
  const [tb, pb] = b.split('.').map(BigInt);
  return ta! !== tb! ? (ta! < tb! ? -1 : 1) : pa! < pb! ? -1 : pa! > pb! ? 1 : 0;
}
