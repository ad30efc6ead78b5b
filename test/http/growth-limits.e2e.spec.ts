import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryTallyStore } from '../../src/projections/tallies/memory-tally-store.js';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';

async function eventCount(app: TestApp): Promise<number> {
  const row = await app.database.db.selectFrom('vote_events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('a poll with maxTargets', () => {
  let app: TestApp;
  let keys: { publicKey: string; secretKey: string };
  const vote = (target: string, voter: string, value = 1) => call(app, 'POST', '/v1/polls/capped/votes', { key: keys.publicKey, body: { target, voter, value } });

  beforeAll(async () => {
    app = await startTestApp();
    keys = await createProjectOverHttp(app, 'growth limits', { capped: { kind: 'updown', maxTargets: 2 } });
  });
  afterAll(() => app.close());

  it('says its limit', async () => {
    expect((await call(app, 'GET', '/v1/polls/capped', { key: keys.publicKey })).body).toMatchObject({ kind: 'updown', maxTargets: 2 });
  });

  it('answers a vote on a target past the limit with a 409 problem and appends nothing', async () => {
    expect((await vote('first', 'ann')).status).toBe(200);
    expect((await vote('second', 'ann')).status).toBe(200);
    const before = await eventCount(app);
    const refused = await vote('third', 'ann');
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ type: 'urn:clickvote:problem:poll_target_limit_reached', status: 409, detail: expect.stringContaining('at most 2 targets') });
    expect(await eventCount(app)).toBe(before);
  });

  it('keeps taking votes on the targets it has', async () => {
    expect((await vote('first', 'bob', -1)).body).toMatchObject({ value: -1, changed: true });
    expect((await vote('second', 'ann', 0)).body).toMatchObject({ value: 0, changed: true });
  });

  it('takes a new target once the limit is raised, and refuses a limit that is not a positive integer', async () => {
    const raised = await call(app, 'PUT', '/v1/polls/capped', { key: keys.secretKey, body: { kind: 'updown', maxTargets: 3 } });
    expect(raised).toMatchObject({ status: 200, body: { change: 'updated', maxTargets: 3 } });
    expect((await vote('third', 'ann')).status).toBe(200);
    const zero = await call(app, 'PUT', '/v1/polls/capped', { key: keys.secretKey, body: { kind: 'updown', maxTargets: 0 } });
    expect(zero.status).toBe(400);
    expect(zero.body.errors).toEqual([{ field: 'maxTargets', message: 'must be an integer from 1 to 2147483647' }]);
  });
});

describe('the embedded read model at its ceiling', () => {
  let app: TestApp;
  let publicKey: string;
  const vote = (target: string, voter: string, value = 1) => call(app, 'POST', '/v1/polls/likes/votes', { key: publicKey, body: { target, voter, value } });
  const projected = (targets: number, ballots: number) => expect.poll(() => (app.store as MemoryTallyStore).size()).toEqual({ targets, ballots });

  beforeAll(async () => {
    app = await startTestApp({ embeddedCeiling: { maxTargets: 3, maxBallots: 5 } });
    ({ publicKey } = await createProjectOverHttp(app, 'embedded ceiling', { likes: { kind: 'like' } }));
  });
  afterAll(() => app.close());

  it('refuses a new target with a 507 problem naming the ceiling, and appends nothing', async () => {
    expect(app.readModel).toBe('in-process');
    for (const target of ['a', 'b', 'c']) expect((await vote(target, 'ann')).status).toBe(200);
    await projected(3, 3);
    const before = await eventCount(app);
    const refused = await vote('d', 'ann');
    expect(refused.status).toBe(507);
    expect(refused.body).toMatchObject({ type: 'urn:clickvote:problem:read_model_full', detail: expect.stringContaining('3 targets (EMBEDDED_MAX_TARGETS)') });
    expect(await eventCount(app)).toBe(before);
  });

  it('takes new voters on the targets it holds until the ballots are full, then only what it holds', async () => {
    expect((await vote('a', 'bob')).status).toBe(200);
    expect((await vote('b', 'bob')).status).toBe(200);
    await projected(3, 5);
    expect((await vote('c', 'bob')).body).toMatchObject({ type: 'urn:clickvote:problem:read_model_full', detail: expect.stringContaining('5 ballots') });
    expect((await vote('a', 'ann', 0)).body).toMatchObject({ changed: true });
    await projected(3, 4);
    expect((await vote('c', 'bob')).status).toBe(200);
  });
});
