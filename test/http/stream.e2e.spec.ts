import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';
import { redisVariants } from '../support/redis-cluster.js';

let app: TestApp;
let project: { publicKey: string; secretKey: string };

interface Received {
  readonly at: number;
  readonly data: Record<string, any>;
}

/** Opens a stream the way EventSource would, with the key in the query string. */
async function openStream(targets: string[]) {
  const query = targets.map((t) => `target=${encodeURIComponent(t)}`).join('&');
  return openPath(`/v1/polls/votes/stream?${query}&key=${project.publicKey}`);
}

/** Opens one stream for a whole page: `poll:target` pairs across polls. */
async function openPageStream(pairs: string[]) {
  const query = pairs.map((pair) => `subscribe=${encodeURIComponent(pair)}`).join('&');
  return openPath(`/v1/stream?${query}&key=${project.publicKey}`);
}

async function openPath(path: string) {
  const controller = new AbortController();
  const response = await fetch(app.baseUrl + path, { signal: controller.signal });
  const events: Received[] = [];
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body!) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (/^event: tally$/m.test(block) && data !== undefined) events.push({ at: performance.now(), data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted
    }
  })();
  return { response, events, close: async () => (controller.abort(), await reading) };
}

const vote = (target: string, voter: string, value: number) =>
  call(app, 'POST', '/v1/polls/votes/votes', { key: project.publicKey, body: { target, voter, value } });

const until = (check: () => boolean) => vi.waitFor(() => expect(check()).toBe(true), { timeout: 5000, interval: 20 });

describe.each(redisVariants)('realtime on $name', ({ create }) => {
  beforeAll(async () => {
    app = await startTestApp({ redis: create });
    project = await createProjectOverHttp(app, 'stream', { votes: { kind: 'updown' }, likes: { kind: 'like' }, stars: { kind: 'rating', min: 1, max: 5 } });
  });

  afterAll(() => app.close());

  describe('realtime tallies over Server-Sent Events', () => {
    it('sends each current tally at once, then every change, and never who voted', async () => {
      await vote('a', 'ann', 1);
      const stream = await openStream(['a', 'b']);
      expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await until(() => stream.events.length >= 2);
      expect(stream.events.slice(0, 2).map((e) => [e.data.target, e.data.count])).toEqual([
        ['a', expect.any(Number)],
        ['b', 0],
      ]);
      const cast = await vote('b', 'bob', -1);
      await until(() => stream.events.some((e) => e.data.target === 'b' && e.data.position === cast.body.position));
      const update = stream.events.at(-1)!.data;
      expect(update).toMatchObject({ poll: 'votes', kind: 'updown', target: 'b', count: 1, sum: -1, down: 1, average: -1 });
      expect(JSON.stringify(stream.events)).not.toContain('bob');
      await stream.close();
    });

    it('coalesces a burst to at most one event per target every 250 ms, ending on the last tally', async () => {
      const stream = await openStream(['burst']);
      await until(() => stream.events.length >= 1);
      const started = performance.now();
      for (let i = 0; i < 30; i += 1) await vote('burst', `fan-${i}`, 1);
      await until(() => stream.events.at(-1)!.data.count === 30);
      const span = performance.now() - started;
      // Counted, not timed at the client: a slow reader may get two events in one chunk.
      expect(stream.events.length - 1).toBeLessThanOrEqual(Math.ceil(span / 250) + 1);
      expect(stream.events.length - 1).toBeLessThan(30);
      await stream.close();
    });

    it('lets go of a stream when the client leaves', async () => {
      const stream = await openStream(['leaving']);
      await until(() => stream.events.length >= 1);
      const open = async () => Number(/clickvote_sse_connections (\d+)/.exec((await call(app, 'GET', '/metrics')).body)?.[1]);
      expect(await open()).toBeGreaterThanOrEqual(1);
      await stream.close();
      await vi.waitFor(async () => expect(await open()).toBe(0), { timeout: 5000, interval: 50 });
    });

    it.each([
      ['no key', '/v1/polls/votes/stream?target=a', 401],
      ['no target', `/v1/polls/votes/stream?key=KEY`, 400],
      ['101 targets', `/v1/polls/votes/stream?key=KEY&${Array.from({ length: 101 }, (_, i) => `target=t${i}`).join('&')}`, 400],
      ['an unknown poll', '/v1/polls/nope/stream?target=a&key=KEY', 404],
    ])('refuses %s', async (_, path, status) => {
      const response = await fetch(app.baseUrl + path.replace('KEY', project.publicKey));
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    });
  });

  describe('one realtime stream for a whole page', () => {
    const castIn = (poll: string, target: string, voter: string, value: number) =>
      call(app, 'POST', `/v1/polls/${poll}/votes`, { key: project.publicKey, body: { target, voter, value } });

    it('sends the current tallies of targets across polls, then each change naming its poll', async () => {
      await castIn('likes', 'page-a', 'ann', 1);
      const stream = await openPageStream(['votes:page-a', 'likes:page-a', 'stars:page-b']);
      expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await until(() => stream.events.length >= 3);
      expect(stream.events.slice(0, 3).map((e) => [e.data.poll, e.data.kind, e.data.target])).toEqual([
        ['votes', 'updown', 'page-a'],
        ['likes', 'like', 'page-a'],
        ['stars', 'rating', 'page-b'],
      ]);
      const rated = await castIn('stars', 'page-b', 'bob', 4);
      await until(() => stream.events.some((e) => e.data.position === rated.body.position));
      expect(stream.events.at(-1)!.data).toMatchObject({ poll: 'stars', kind: 'rating', target: 'page-b', count: 1, sum: 4, average: 4 });
      const liked = await castIn('likes', 'page-a', 'cat', 1);
      await until(() => stream.events.some((e) => e.data.position === liked.body.position));
      expect(stream.events.at(-1)!.data).toMatchObject({ poll: 'likes', kind: 'like', target: 'page-a', count: 2 });
      expect(JSON.stringify(stream.events)).not.toMatch(/bob|cat/);
      await stream.close();
    });

    it('keeps apart changes of one target name in two polls, however close together', async () => {
      const stream = await openPageStream(['likes:shared', 'votes:shared']);
      await until(() => stream.events.length >= 2);
      const liked = await castIn('likes', 'shared', 'ann', 1);
      const voted = await castIn('votes', 'shared', 'ann', -1);
      await until(() => [liked, voted].every((cast) => stream.events.some((e) => e.data.position === cast.body.position)));
      expect(stream.events.slice(2).map((e) => [e.data.poll, e.data.sum])).toEqual(expect.arrayContaining([['likes', 1], ['votes', -1]]));
      await stream.close();
    });

    it.each([
      ['no key', '/v1/stream?subscribe=votes:a', 401],
      ['no pair', '/v1/stream?key=KEY', 400],
      ['101 pairs', `/v1/stream?key=KEY&${Array.from({ length: 101 }, (_, i) => `subscribe=votes:t${i}`).join('&')}`, 400],
      ['a pair without a colon', '/v1/stream?key=KEY&subscribe=votes', 400],
      ['a pair with an empty target', '/v1/stream?key=KEY&subscribe=votes:', 400],
      ['a pair with a bad poll name', '/v1/stream?key=KEY&subscribe=%2Fvotes:a', 400],
      ['an unknown poll among known ones', '/v1/stream?key=KEY&subscribe=votes:a&subscribe=nope:a', 404],
    ])('refuses %s with a problem document', async (_, path, status) => {
      const response = await fetch(app.baseUrl + path.replace('KEY', project.publicKey));
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    });

    it('refuses an origin its project does not list, as the per-poll stream does', async () => {
      const listed = await createProjectOverHttp(app, 'stream-origins', { likes: { kind: 'like' } });
      await call(app, 'PATCH', '/v1/projects/current', { key: listed.secretKey, body: { allowedOrigins: ['https://blog.example'] } });
      const from = (origin: string) => fetch(`${app.baseUrl}/v1/stream?subscribe=likes:a&key=${listed.publicKey}`, { headers: { origin } });
      const refused = await from('https://elsewhere.example');
      expect(refused.status).toBe(403);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const allowed = await from('https://blog.example');
      expect(allowed.status).toBe(200);
      await allowed.body?.cancel();
    });

    it('takes 100 pairs, and lets go of the stream when the client leaves', async () => {
      const stream = await openPageStream(Array.from({ length: 100 }, (_, i) => `${['votes', 'likes'][i % 2]}:cap-${i}`));
      await until(() => stream.events.length >= 100);
      const open = async () => Number(/clickvote_sse_connections (\d+)/.exec((await call(app, 'GET', '/metrics')).body)?.[1]);
      expect(await open()).toBeGreaterThanOrEqual(1);
      await stream.close();
      await vi.waitFor(async () => expect(await open()).toBe(0), { timeout: 5000, interval: 50 });
    });
  });
});
