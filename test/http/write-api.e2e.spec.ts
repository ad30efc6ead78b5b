import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countVoteEvents } from '../support/fixtures.js';
import { call, startTestApp, type TestApp } from '../support/app.js';

let app: TestApp;
let project: { id: string; publicKey: string; secretKey: string };

beforeAll(async () => {
  app = await startTestApp();
  const created = await call(app, 'POST', '/v1/projects', { key: app.adminToken, body: { name: 'e2e' } });
  project = created.body;
  for (const [poll, body] of Object.entries({ likes: { kind: 'like' }, votes: { kind: 'updown' }, stars: { kind: 'rating', min: 1, max: 10 } })) {
    await call(app, 'PUT', `/v1/polls/${poll}`, { key: project.secretKey, body });
  }
});

afterAll(() => app.close());

describe('projects', () => {
  it('creates a project with keys shown once, the secret stored only as a hash', async () => {
    const response = await call(app, 'POST', '/v1/projects', { key: app.adminToken, body: { name: 'My blog' } });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ name: 'My blog', publicKey: expect.stringMatching(/^cv_pk_/), secretKey: expect.stringMatching(/^cv_sk_/) });
    const row = await app.database.db.selectFrom('projects').selectAll().where('id', '=', response.body.id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(response.body.secretKey);
  });
});

describe('polls', () => {
  it('creates, reports unchanged, updates while empty, lists, reads and archives', async () => {
    const key = project.secretKey;
    expect((await call(app, 'PUT', '/v1/polls/reviews', { key, body: { kind: 'rating' } })).status).toBe(201);
    const unchanged = await call(app, 'PUT', '/v1/polls/reviews', { key, body: { kind: 'rating', min: 1, max: 5 } });
    expect(unchanged).toMatchObject({ status: 200, body: { change: 'unchanged', min: 1, max: 5 } });
    const updated = await call(app, 'PUT', '/v1/polls/reviews', { key, body: { kind: 'rating', max: 7 } });
    expect(updated).toMatchObject({ status: 200, body: { change: 'updated', max: 7 } });

    const listed = await call(app, 'GET', '/v1/polls', { key: project.publicKey });
    expect(listed.body.polls.map((poll: { name: string }) => poll.name)).toEqual(['likes', 'reviews', 'stars', 'votes']);
    expect((await call(app, 'GET', '/v1/polls/reviews', { key: project.publicKey })).body).toMatchObject({ kind: 'rating', max: 7, archived: false });

    expect((await call(app, 'DELETE', '/v1/polls/reviews', { key })).status).toBe(204);
    expect((await call(app, 'GET', '/v1/polls/reviews', { key })).body).toMatchObject({ archived: true });
    const vote = await call(app, 'POST', '/v1/polls/reviews/votes', { key: project.publicKey, body: { target: 't', voter: 'v', value: 3 } });
    expect(vote.status).toBe(410);
  });

  it('refuses to change the kind of a poll that has votes', async () => {
    const key = project.secretKey;
    await call(app, 'PUT', '/v1/polls/claps', { key, body: { kind: 'like' } });
    await call(app, 'POST', '/v1/polls/claps/votes', { key: project.publicKey, body: { target: 't', voter: 'v', value: 1 } });
    const response = await call(app, 'PUT', '/v1/polls/claps', { key, body: { kind: 'updown' } });
    expect(response).toMatchObject({ status: 409, body: { type: 'urn:clickvote:problem:poll_definition_conflict', status: 409 } });
  });
});

describe('votes', () => {
  const vote = (body: unknown, headers: Record<string, string> = {}) =>
    call(app, 'POST', '/v1/polls/votes/votes', { key: project.publicKey, body, headers });

  it('casts, changes, repeats and retracts a vote', async () => {
    const target = `post-${randomUUID()}`;
    const cast = await vote({ target, voter: 'ann', value: 1 });
    expect(cast).toMatchObject({ status: 200, body: { poll: 'votes', target, voter: 'ann', value: 1, previous: 0, changed: true } });
    expect(cast.body.position).toMatch(/^\d+\.\d+$/);
    expect((await vote({ target, voter: 'ann', value: -1 })).body).toMatchObject({ value: -1, previous: 1, changed: true });
    const repeated = await vote({ target, voter: 'ann', value: -1 });
    expect(repeated.body).toMatchObject({ value: -1, previous: -1, changed: false });
    expect((await vote({ target, voter: 'ann', value: 0 })).body).toMatchObject({ value: 0, previous: -1, changed: true });
  });

  it('accepts the secret key too', async () => {
    const response = await call(app, 'POST', '/v1/polls/likes/votes', { key: project.secretKey, body: { target: 'x', voter: 'y', value: 1 } });
    expect(response.status).toBe(200);
  });

  it('answers a repeated Idempotency-Key with the first result and appends nothing', async () => {
    const headers = { 'idempotency-key': randomUUID() };
    const body = { target: `post-${randomUUID()}`, voter: 'bo', value: 1 };
    const first = await vote(body, headers);
    const before = await countVoteEvents(app.database.db);
    const again = await vote(body, headers);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await countVoteEvents(app.database.db)).toBe(before);
    expect((await vote({ ...body, value: -1 }, headers)).status).toBe(422);
  });
});

describe('health', () => {
  it('answers liveness and readiness', async () => {
    expect(await call(app, 'GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await call(app, 'GET', '/readyz')).toMatchObject({ status: 200, body: { checks: { database: true, migrations: true, stopping: false } } });
  });

  it('exposes every documented metric once there is traffic', async () => {
    await call(app, 'POST', '/v1/polls/votes/votes', { key: project.publicKey, body: { target: 'metrics', voter: 'm', value: 1 } });
    const { body } = await call(app, 'GET', '/metrics');
    for (const name of [
      'clickvote_http_request_duration_seconds_bucket{le="0.001",method="POST",route="/v1/polls/:poll/votes",status="200"}',
      'clickvote_votes_appended_total{kind="updown",type="VoteCast"}',
      'clickvote_append_batch_size_bucket',
      'clickvote_append_batch_duration_seconds_bucket',
      'clickvote_projector_events_applied_total',
      'clickvote_projector_batch_size_bucket',
      'clickvote_projector_lag_events',
      'clickvote_projector_lag_seconds',
    ]) {
      expect(body).toContain(name);
    }
  });
});
