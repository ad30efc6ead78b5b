import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type CallOptions, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';

let app: TestApp;
let keys: { publicKey: string; secretKey: string };

beforeAll(async () => {
  app = await startTestApp();
  keys = await createProjectOverHttp(app, 'bad requests', { likes: { kind: 'like' }, votes: { kind: 'updown' }, stars: { kind: 'rating', max: 10 } });
});

afterAll(() => app.close());

type Key = 'public' | 'secret' | 'admin' | 'none' | string;
interface BadRequest {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly key: Key;
  readonly options?: Omit<CallOptions, 'key'>;
  readonly status: number;
  readonly code: string;
  readonly field?: string;
}

const goodVote = { target: 'post-1', voter: 'ann', value: 1 };
const vote = (name: string, body: unknown, status: number, code: string, field?: string, poll = 'likes'): BadRequest => ({
  name,
  method: 'POST',
  path: `/v1/polls/${poll}/votes`,
  key: 'public',
  options: { body },
  status,
  code,
  field,
});

const badRequests: BadRequest[] = [
  { name: 'no Authorization header', method: 'POST', path: '/v1/polls/likes/votes', key: 'none', options: { body: goodVote }, status: 401, code: 'unauthenticated' },
  { name: 'a Basic Authorization header', method: 'POST', path: '/v1/polls/likes/votes', key: 'none', options: { body: goodVote, headers: { authorization: 'Basic YTpi' } }, status: 401, code: 'unauthenticated' },
  { name: 'an unknown public key', method: 'POST', path: '/v1/polls/likes/votes', key: 'cv_pk_unknown', options: { body: goodVote }, status: 401, code: 'unauthenticated' },
  { name: 'an unknown secret key', method: 'PUT', path: '/v1/polls/likes', key: 'cv_sk_unknown', options: { body: { kind: 'like' } }, status: 401, code: 'unauthenticated' },
  { name: 'a public key defining a poll', method: 'PUT', path: '/v1/polls/new-poll', key: 'public', options: { body: { kind: 'like' } }, status: 403, code: 'forbidden' },
  { name: 'a public key archiving a poll', method: 'DELETE', path: '/v1/polls/likes', key: 'public', status: 403, code: 'forbidden' },
  { name: 'no admin token creating a project', method: 'POST', path: '/v1/projects', key: 'none', options: { body: { name: 'x' } }, status: 401, code: 'unauthenticated' },
  { name: 'a wrong admin token', method: 'POST', path: '/v1/projects', key: 'not-the-admin-token-at-all', options: { body: { name: 'x' } }, status: 401, code: 'unauthenticated' },
  { name: 'a secret key creating a project', method: 'POST', path: '/v1/projects', key: 'secret', options: { body: { name: 'x' } }, status: 403, code: 'forbidden' },
  { name: 'an empty project name', method: 'POST', path: '/v1/projects', key: 'admin', options: { body: { name: '  ' } }, status: 400, code: 'validation_failed', field: 'name' },
  { name: 'malformed JSON', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { rawBody: '{"target":' }, status: 400, code: 'malformed_json' },
  { name: 'a JSON null body', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { rawBody: 'null' }, status: 400, code: 'malformed_json' },
  vote('a JSON array body', [goodVote], 400, 'validation_failed', 'body'),
  { name: 'a text/plain body', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { rawBody: JSON.stringify(goodVote), contentType: 'text/plain' }, status: 415, code: 'unsupported_media_type' },
  { name: 'a form body', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { rawBody: 'target=a&voter=b&value=1', contentType: 'application/x-www-form-urlencoded' }, status: 415, code: 'unsupported_media_type' },
  { name: 'a latin1 charset', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { rawBody: JSON.stringify(goodVote), contentType: 'application/json; charset=latin1' }, status: 415, code: 'unsupported_media_type' },
  vote('a body over 16 KiB', { ...goodVote, padding: 'x'.repeat(17 * 1024) }, 413, 'payload_too_large'),
  { name: 'no body at all', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { rawBody: '' }, status: 400, code: 'validation_failed', field: 'target' },
  vote('a missing target', { voter: 'ann', value: 1 }, 400, 'validation_failed', 'target'),
  vote('an empty target', { ...goodVote, target: '' }, 400, 'validation_failed', 'target'),
  vote('a target of 257 characters', { ...goodVote, target: 'x'.repeat(257) }, 400, 'validation_failed', 'target'),
  vote('a target with a NUL character', { ...goodVote, target: 'a\u0000b' }, 400, 'validation_failed', 'target'),
  vote('a voter that is a number', { ...goodVote, voter: 42 }, 400, 'validation_failed', 'voter'),
  vote('a voter with a lone surrogate', { ...goodVote, voter: 'x\ud800' }, 400, 'validation_failed', 'voter'),
  vote('a value that is a string', { ...goodVote, value: '1' }, 400, 'validation_failed', 'value'),
  vote('a fractional value', { ...goodVote, value: 0.5 }, 400, 'validation_failed', 'value'),
  vote('an unknown field', { ...goodVote, weight: 2 }, 400, 'validation_failed', 'weight'),
  vote('2 on a like poll', { ...goodVote, value: 2 }, 400, 'validation_failed', 'value'),
  vote('-1 on a like poll', { ...goodVote, value: -1 }, 400, 'validation_failed', 'value'),
  vote('-2 on an updown poll', { ...goodVote, value: -2 }, 400, 'validation_failed', 'value', 'votes'),
  vote('11 on a 1..10 rating poll', { ...goodVote, value: 11 }, 400, 'validation_failed', 'value', 'stars'),
  vote('a vote on an unknown poll', goodVote, 404, 'poll_not_found', undefined, 'nope'),
  vote('a poll name with a space', goodVote, 400, 'validation_failed', 'poll', 'bad%20name'),
  { name: 'an over-long Idempotency-Key', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { body: goodVote, headers: { 'idempotency-key': 'k'.repeat(300) } }, status: 400, code: 'validation_failed', field: 'Idempotency-Key' },
  { name: 'an unknown poll kind', method: 'PUT', path: '/v1/polls/new-poll', key: 'secret', options: { body: { kind: 'stars' } }, status: 400, code: 'validation_failed', field: 'kind' },
  { name: 'min on a like poll', method: 'PUT', path: '/v1/polls/new-poll', key: 'secret', options: { body: { kind: 'like', min: 1 } }, status: 400, code: 'validation_failed', field: 'min' },
  { name: 'a rating scale upside down', method: 'PUT', path: '/v1/polls/new-poll', key: 'secret', options: { body: { kind: 'rating', min: 5, max: 3 } }, status: 400, code: 'validation_failed', field: 'max' },
  { name: 'reading an unknown poll', method: 'GET', path: '/v1/polls/nope', key: 'public', status: 404, code: 'poll_not_found' },
  { name: 'archiving an unknown poll', method: 'DELETE', path: '/v1/polls/nope', key: 'secret', status: 404, code: 'poll_not_found' },
  { name: 'an unknown route', method: 'GET', path: '/v1/nothing-here', key: 'public', status: 404, code: 'route_not_found' },
];

async function rowCounts() {
  const db = app.database.db;
  const count = async (table: 'vote_events' | 'ballots' | 'polls' | 'projects' | 'idempotency_keys') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
  return {
    vote_events: await count('vote_events'),
    ballots: await count('ballots'),
    polls: await count('polls'),
    projects: await count('projects'),
    idempotency_keys: await count('idempotency_keys'),
  };
}

describe('a bad request', () => {
  it('is tested in at least 25 shapes', () => {
    expect(badRequests.length).toBeGreaterThanOrEqual(25);
  });

  it.each(badRequests)('with $name gets $status $code and writes nothing', async (bad) => {
    const key = { public: keys.publicKey, secret: keys.secretKey, admin: app.adminToken, none: undefined }[bad.key] ?? bad.key;
    const before = await rowCounts();
    const response = await call(app, bad.method, bad.path, { ...bad.options, key });

    expect(response.status).toBe(bad.status);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ type: `urn:clickvote:problem:${bad.code}`, status: bad.status, title: expect.any(String), detail: expect.any(String) });
    if (bad.field !== undefined) expect(response.body.errors).toContainEqual(expect.objectContaining({ field: bad.field }));
    expect(await rowCounts()).toEqual(before);
  });
});
