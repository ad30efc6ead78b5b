import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';
import { countVoteEvents } from '../support/fixtures.js';

let app: TestApp;
let project: { id: string; publicKey: string; secretKey: string };

beforeAll(async () => {
  app = await startTestApp();
  project = await createProjectOverHttp(app, 'origins', { likes: { kind: 'like' } });
  await call(app, 'PATCH', '/v1/projects/current', { key: project.secretKey, body: { allowedOrigins: ['https://blog.example', 'http://localhost:8080'] } });
});

afterAll(() => app.close());

const vote = (origin: string | undefined, key = project.publicKey) =>
  call(app, 'POST', '/v1/polls/likes/votes', { key, body: { target: 'post-1', voter: `v-${Math.random()}`, value: 1 }, headers: origin === undefined ? {} : { origin } });

describe('allowed origins', () => {
  it('accepts a listed origin and grants CORS to it alone', async () => {
    const response = await vote('https://blog.example');
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://blog.example');
    expect(response.headers.get('vary')).toMatch(/origin/i);
    expect((await vote('http://localhost:8080')).status).toBe(200);
  });

  it('refuses another origin with a 403, no CORS grant and nothing appended', async () => {
    const before = await countVoteEvents(app.database.db);
    for (const origin of ['https://evil.example', 'https://blog.example.evil.example', 'http://blog.example', 'null']) {
      const response = await vote(origin);
      expect(response).toMatchObject({ status: 403, body: { type: 'urn:clickvote:problem:origin_not_allowed' } });
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    }
    const stream = await fetch(`${app.baseUrl}/v1/polls/likes/stream?target=post-1&key=${project.publicKey}`, { headers: { origin: 'https://evil.example' } });
    expect(stream.status).toBe(403);
    const read = await call(app, 'GET', '/v1/polls/likes/tallies/post-1', { key: project.publicKey, headers: { origin: 'https://evil.example' } });
    expect(read.status).toBe(403);
    expect(await countVoteEvents(app.database.db)).toBe(before);
  });

  it('leaves requests without an Origin and secret-key requests alone', async () => {
    expect((await vote(undefined)).status).toBe(200);
    expect((await vote('https://evil.example', project.secretKey)).status).toBe(200);
  });

  it('lets any origin in again once the list is empty', async () => {
    const other = await createProjectOverHttp(app, 'open-origins', { likes: { kind: 'like' } });
    await call(app, 'PATCH', '/v1/projects/current', { key: other.secretKey, body: { allowedOrigins: ['https://only.example'] } });
    const vote = () => call(app, 'POST', '/v1/polls/likes/votes', { key: other.publicKey, body: { target: 't', voter: 'v', value: 1 }, headers: { origin: 'https://any.example' } });
    expect((await vote()).status).toBe(403);
    const cleared = await call(app, 'PATCH', '/v1/projects/current', { key: other.secretKey, body: { allowedOrigins: [] } });
    expect(cleared.body.allowedOrigins).toEqual([]);
    const response = await vote();
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
  });
});
