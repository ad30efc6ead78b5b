import http from 'node:http';
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
  /** The field's one message, exactly: short, human, no echo of the input. */
  readonly message?: string;
  readonly detail?: string;
}

const goodVote = { target: 'post-1', voter: 'ann', value: 1 };
const vote = (name: string, body: unknown, status: number, code: string, field?: string, poll = 'likes', message?: string): BadRequest => ({
  name,
  method: 'POST',
  path: `/v1/polls/${poll}/votes`,
  key: 'public',
  options: { body },
  status,
  code,
  field,
  message,
});
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const manyTargets = Array.from({ length: 101 }, (_, i) => `target=t${i}`).join('&');

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
  { name: 'an empty project name', method: 'POST', path: '/v1/projects', key: 'admin', options: { body: { name: '  ' } }, status: 400, code: 'validation_failed', field: 'name', message: 'must not be empty' },
  { name: 'a project name with a NUL character', method: 'POST', path: '/v1/projects', key: 'admin', options: { body: { name: 'a\u0000b' } }, status: 400, code: 'validation_failed', field: 'name', message: 'must not contain the NUL character' },
  { name: 'a project name of 201 characters', method: 'POST', path: '/v1/projects', key: 'admin', options: { body: { name: 'x'.repeat(201) } }, status: 400, code: 'validation_failed', field: 'name', message: 'must be at most 200 characters' },
  { name: 'malformed JSON', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { rawBody: '{"target":' }, status: 400, code: 'malformed_json' },
  { name: 'a JSON null body', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { rawBody: 'null' }, status: 400, code: 'malformed_json' },
  vote('a JSON array body', [goodVote], 400, 'validation_failed', 'body'),
  { name: 'a text/plain body', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { rawBody: JSON.stringify(goodVote), contentType: 'text/plain' }, status: 415, code: 'unsupported_media_type' },
  { name: 'a form body', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { rawBody: 'target=a&voter=b&value=1', contentType: 'application/x-www-form-urlencoded' }, status: 415, code: 'unsupported_media_type' },
  { name: 'a latin1 charset', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { rawBody: JSON.stringify(goodVote), contentType: 'application/json; charset=latin1' }, status: 415, code: 'unsupported_media_type' },
  vote('a body over 16 KiB', { ...goodVote, padding: 'x'.repeat(17 * 1024) }, 413, 'payload_too_large'),
  { name: 'no body at all', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { rawBody: '' }, status: 400, code: 'validation_failed', field: 'body', message: 'a JSON body is required' },
  { name: 'a body of 5,000 nested arrays', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { rawBody: nested(5000) }, status: 400, code: 'validation_failed', field: 'body', message: 'must not nest deeper than 16 levels' },
  { name: 'a target of 5,000 nested arrays', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { rawBody: `{"target":${nested(5000)},"voter":"ann","value":1}` }, status: 400, code: 'validation_failed', field: 'body', message: 'must not nest deeper than 16 levels' },
  vote('a target that is a list', { ...goodVote, target: ['a', 'b'] }, 400, 'validation_failed', 'target', 'likes', 'must be a string'),
  vote('a missing target', { voter: 'ann', value: 1 }, 400, 'validation_failed', 'target', 'likes', 'is required'),
  vote('an empty target', { ...goodVote, target: '' }, 400, 'validation_failed', 'target'),
  vote('a target of 257 characters', { ...goodVote, target: 'x'.repeat(257) }, 400, 'validation_failed', 'target'),
  vote('a target with a NUL character', { ...goodVote, target: 'a\u0000b' }, 400, 'validation_failed', 'target'),
  vote('a voter that is a number', { ...goodVote, voter: 42 }, 400, 'validation_failed', 'voter'),
  vote('a voter with a lone surrogate', { ...goodVote, voter: 'x\ud800' }, 400, 'validation_failed', 'voter'),
  vote('a value that is a string', { ...goodVote, value: '1' }, 400, 'validation_failed', 'value'),
  vote('a fractional value', { ...goodVote, value: 0.5 }, 400, 'validation_failed', 'value', 'likes', 'must be an integer'),
  vote('an unknown field', { ...goodVote, weight: 2 }, 400, 'validation_failed', 'weight', 'likes', 'is not a field here; the fields are target, voter and value'),
  vote('2 on a like poll', { ...goodVote, value: 2 }, 400, 'validation_failed', 'value'),
  vote('-1 on a like poll', { ...goodVote, value: -1 }, 400, 'validation_failed', 'value'),
  { ...vote('-2 on an updown poll', { ...goodVote, value: -2 }, 400, 'validation_failed', 'value', 'votes', 'must be -1, 0 or 1'), detail: 'An updown poll takes -1, 0 or 1.' },
  vote('11 on a 1..10 rating poll', { ...goodVote, value: 11 }, 400, 'validation_failed', 'value', 'stars'),
  vote('a vote on an unknown poll', goodVote, 404, 'poll_not_found', undefined, 'nope'),
  vote('a poll name with a space', goodVote, 400, 'validation_failed', 'poll', 'bad%20name'),
  { name: 'an over-long Idempotency-Key', method: 'POST', path: '/v1/polls/likes/votes', key: 'public', options: { body: goodVote, headers: { 'idempotency-key': 'k'.repeat(300) } }, status: 400, code: 'validation_failed', field: 'Idempotency-Key' },
  { name: 'an unknown poll kind', method: 'PUT', path: '/v1/polls/new-poll', key: 'secret', options: { body: { kind: 'stars' } }, status: 400, code: 'validation_failed', field: 'kind', message: 'must be "like", "updown" or "rating"' },
  { name: 'min on a like poll', method: 'PUT', path: '/v1/polls/new-poll', key: 'secret', options: { body: { kind: 'like', min: 1 } }, status: 400, code: 'validation_failed', field: 'min' },
  { name: 'min on an updown poll', method: 'PUT', path: '/v1/polls/new-poll', key: 'secret', options: { body: { kind: 'updown', min: 1 } }, status: 400, code: 'validation_failed', field: 'min', message: 'an updown poll has no min' },
  { name: 'a fractional rating bound', method: 'PUT', path: '/v1/polls/new-poll', key: 'secret', options: { body: { kind: 'rating', min: 1.5 } }, status: 400, code: 'validation_failed', field: 'min', message: 'must be an integer' },
  { name: '101 targets in a batch read', method: 'GET', path: `/v1/polls/likes/tallies?${manyTargets}`, key: 'public', status: 400, code: 'validation_failed', field: 'target', message: 'must be 1 to 100 targets' },
  { name: 'an unknown top-list order', method: 'GET', path: '/v1/polls/likes/top?order=best', key: 'public', status: 400, code: 'validation_failed', field: 'order', message: 'must be "count", "sum", "average", "wilson" or "bayes"' },
  { name: 'a top-list limit that is not a number', method: 'GET', path: '/v1/polls/likes/top?limit=ten', key: 'public', status: 400, code: 'validation_failed', field: 'limit', message: 'must be a number' },
  { name: 'an audit cursor past the largest position', method: 'GET', path: `/v1/audit/events?after=${Buffer.from('99999999999999999999.99999999999999999999').toString('base64url')}`, key: 'secret', status: 400, code: 'validation_failed', field: 'after', message: 'must be a cursor from a previous page' },
  { name: 'a minPosition past the largest position', method: 'GET', path: '/v1/polls/likes/tallies/post-1?minPosition=18446744073709551616.1', key: 'public', status: 400, code: 'validation_failed', field: 'minPosition', message: 'must be a position returned by a vote' },
  { name: 'a maxTargets of 0', method: 'PUT', path: '/v1/polls/new-poll', key: 'secret', options: { body: { kind: 'like', maxTargets: 0 } }, status: 400, code: 'validation_failed', field: 'maxTargets', message: 'must be an integer from 1 to 2147483647' },
  { name: 'an audit time that is not a time', method: 'GET', path: '/v1/audit/events?from=yesterday', key: 'secret', status: 400, code: 'validation_failed', field: 'from', message: 'must be an ISO 8601 date and time' },
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
    if (bad.message !== undefined) expect(response.body.errors.filter((e: { field: string }) => e.field === bad.field)).toEqual([{ field: bad.field, message: bad.message }]);
    if (bad.detail !== undefined) expect(response.body.detail).toBe(bad.detail);
    expect(JSON.stringify(response.body).length, 'a problem document never echoes the input').toBeLessThan(1000);
    expect(await rowCounts()).toEqual(before);
  });

  it('with a JSON content type and no body, not even a Content-Length, says a JSON body is required', async () => {
    const before = await rowCounts();
    const response = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const url = new URL('/v1/polls/likes/votes', app.baseUrl);
      const request = http.request(url, { method: 'POST', headers: { authorization: `Bearer ${keys.publicKey}`, 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk)).on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      request.on('error', reject).end();
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ type: 'urn:clickvote:problem:validation_failed', errors: [{ field: 'body', message: 'a JSON body is required' }] });
    expect(await rowCounts()).toEqual(before);
  });
});

/** Well-formed but extreme: answered as asked (times clamped to what PostgreSQL holds), never a 500. */
const extremeRequests = [
  { name: 'an audit "to" at the start of JavaScript time', path: '/v1/audit/events?to=-271821-04-20T00:00:00Z', body: { events: [], next: null } },
  { name: 'an audit "from" at the end of JavaScript time', path: '/v1/audit/events?from=%2B275760-09-13T00:00:00Z', body: { events: [], next: null } },
  { name: 'a tally as of the start of JavaScript time', path: '/v1/audit/polls/likes/tallies/post-1?at=-271821-04-20T00:00:00Z', body: { count: 0, at: '0001-01-01T00:00:00.000Z' } },
  { name: 'a tally as of the end of JavaScript time', path: '/v1/audit/polls/likes/tallies/post-1?at=%2B275760-09-13T00:00:00Z', body: { at: '9999-12-31T23:59:59.999Z' } },
];

describe('an extreme but well-formed request', () => {
  it.each(extremeRequests)('with $name is answered and writes nothing', async (extreme) => {
    const before = await rowCounts();
    const response = await call(app, 'GET', extreme.path, { key: keys.secretKey });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject(extreme.body);
    expect(await rowCounts()).toEqual(before);
  });
});
