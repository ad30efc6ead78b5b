import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';

let app: TestApp;
let project: { id: string; publicKey: string; secretKey: string };

beforeAll(async () => {
  // More votes a minute from one address than the default limit allows: load, so no rate limits.
  app = await startTestApp({ rateLimits: 'off' });
  project = await createProjectOverHttp(app, 'audit', { votes: { kind: 'updown' }, stars: { kind: 'rating' } });
});

afterAll(() => app.close());

const vote = (poll: string, target: string, voter: string, value: number, headers: Record<string, string> = {}) =>
  call(app, 'POST', `/v1/polls/${poll}/votes`, { key: project.publicKey, body: { target, voter, value }, headers });
const encodeCursor = (position: string) => Buffer.from(position).toString('base64url');
const audit = (query: string, headers: Record<string, string> = {}) =>
  call(app, 'GET', `/v1/audit/events?${query}`, { key: project.secretKey, headers });

describe('the audit log', () => {
  it('records who cast each vote without storing the key or the client address', async () => {
    const cast = await vote('votes', 'meta', 'ann', 1, { 'user-agent': 'audit-test/1.0', 'x-request-id': 'req-audit-1' });
    const { body } = await audit('target=meta');
    expect(body.events).toHaveLength(1);
    const [event] = body.events;
    expect(event).toMatchObject({ type: 'VoteCast', poll: 'votes', target: 'meta', voter: 'ann', value: 1, previous: 0, version: 1, position: cast.body.position });
    expect(event.metadata).toMatchObject({ source: 'http', requestId: 'req-audit-1', userAgent: 'audit-test/1.0', keyId: expect.stringMatching(/^cv_pk_[0-9a-f]{12}$/) });
    expect(event.metadata.clientAddressHash).toMatch(/^[\w-]{22}$/);
    expect(JSON.stringify(event)).not.toContain(project.publicKey);
    expect(JSON.stringify(event)).not.toContain('127.0.0.1');
  });

  it('filters by poll, target, voter and time', async () => {
    await vote('stars', 'film', 'bo', 5);
    const between = new Date();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await vote('stars', 'film', 'cy', 2);
    await vote('stars', 'book', 'bo', 3);
    const targets = (await audit('poll=stars&target=film')).body.events.map((e: { voter: string }) => e.voter);
    expect(targets).toEqual(['bo', 'cy']);
    expect((await audit('poll=stars&voter=bo')).body.events.map((e: { target: string }) => e.target)).toEqual(['film', 'book']);
    const later = (await audit(`poll=stars&from=${between.toISOString()}`)).body.events.map((e: { voter: string }) => e.voter);
    expect(later).toEqual(['cy', 'bo']);
    expect((await audit(`poll=stars&to=${between.toISOString()}`)).body.events).toHaveLength(1);
  });

  it('pages in commit order without repeats or gaps while votes keep arriving', async () => {
    for (let i = 0; i < 60; i += 1) await vote('votes', `page-${i % 7}`, `v${i}`, 1);
    const before = (await audit('poll=votes&limit=1000')).body.events.map((e: { eventId: string }) => e.eventId);
    let arriving = true;
    const writer = (async () => {
      for (let i = 0; arriving; i += 1) await vote('votes', `late-${i % 3}`, `w${i}`, i % 2 === 0 ? 1 : -1);
    })();
    const seen: string[] = [];
    let next: string | null = null;
    do {
      const page = await audit(`poll=votes&limit=7${next === null ? '' : `&after=${next}`}`);
      seen.push(...page.body.events.map((e: { eventId: string }) => e.eventId));
      next = page.body.next;
    } while (next !== null);
    arriving = false;
    await writer;
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.slice(0, before.length)).toEqual(before);
  });

  describe('newest first', () => {
    it('pages back in time with filters, never repeating or skipping an event while votes keep arriving', async () => {
      const recent = await createProjectOverHttp(app, 'audit-recent', { votes: { kind: 'updown' } });
      const cast = (target: string, voter: string) => call(app, 'POST', '/v1/polls/votes/votes', { key: recent.publicKey, body: { target, voter, value: 1 } });
      const positions: string[] = [];
      for (let i = 0; i < 9; i += 1) positions.push((await cast(i % 3 === 0 ? 'odd' : 'even', `v${i}`)).body.position);
      const read = (query: string) => call(app, 'GET', `/v1/audit/events?order=newest&${query}`, { key: recent.secretKey });
      const first = await vi.waitFor(async () => {
        const page = await read('limit=4');
        expect(page.body.events[0].position).toBe(positions.at(-1));
        return page;
      }, { timeout: 10_000, interval: 50 });
      expect(first.body).not.toHaveProperty('resumeAfter');
      const seen: string[] = first.body.events.map((event: { position: string }) => event.position);
      let next: string | null = first.body.next;
      let late = 0;
      while (next !== null) {
        await cast('even', `late-${(late += 1)}`);
        const page = await read(`limit=4&after=${next}`);
        seen.push(...page.body.events.map((event: { position: string }) => event.position));
        next = page.body.next;
      }
      expect(seen).toEqual([...positions].reverse());
      const odd = (await read('target=odd')).body.events.map((event: { voter: string }) => event.voter);
      expect(odd).toEqual(['v6', 'v3', 'v0']);
      expect((await read('voter=v4')).body.events).toHaveLength(1);
    });
  });

  describe('when a client tails the log', () => {
    const walkToHead = async (key: string, query: string, after?: string) => {
      const pages: { events: { eventId: string; position: string }[]; next: string | null; resumeAfter: string }[] = [];
      let cursor = after;
      do {
        const page = await call(app, 'GET', `/v1/audit/events?${query}${cursor === undefined ? '' : `&after=${cursor}`}`, { key });
        expect(page.status).toBe(200);
        pages.push(page.body);
        cursor = page.body.next ?? undefined;
      } while (pages.at(-1)!.next !== null);
      return pages;
    };

    type Page = Awaited<ReturnType<typeof walkToHead>>[number];
    const positionsOf = (pages: readonly Page[]) => pages.flatMap((page) => page.events.map((event) => event.position));
    // Audit pages stop below every transaction still running (other test files share the server), so an acknowledged vote may take a moment to show.
    const walkUntil = (events: number, key: string, after: string) =>
      vi.waitFor(async () => {
        const pages = await walkToHead(key, 'limit=3', after);
        expect(positionsOf(pages)).toHaveLength(events);
        return pages;
      }, { timeout: 10_000, interval: 50 });

    it('answers resumeAfter on every page: the last event returned, and the after given on an empty page', async () => {
      const tail = await createProjectOverHttp(app, 'audit-tail', { votes: { kind: 'updown' } });
      const empty = (await call(app, 'GET', '/v1/audit/events', { key: tail.secretKey })).body;
      expect(empty).toEqual({ events: [], next: null, resumeAfter: expect.any(String) });

      const cast = async (count: number, from: number) => {
        const positions: string[] = [];
        for (let i = from; i < from + count; i += 1) {
          const response = await call(app, 'POST', '/v1/polls/votes/votes', { key: tail.publicKey, body: { target: `t${i % 3}`, voter: `v${i}`, value: 1 } });
          positions.push(response.body.position);
        }
        return positions;
      };
      const first = await cast(8, 0);
      const fromStart = await walkUntil(first.length, tail.secretKey, empty.resumeAfter);
      expect(positionsOf(fromStart)).toEqual(first);
      for (const page of fromStart) {
        expect(page.resumeAfter).toBe(encodeCursor(page.events.at(-1)!.position));
        if (page.next !== null) expect(page.next).toBe(page.resumeAfter);
      }
      const atHead = fromStart.at(-1)!;
      expect(atHead.next).toBeNull();

      const idle = (await call(app, 'GET', `/v1/audit/events?limit=3&after=${atHead.resumeAfter}`, { key: tail.secretKey })).body;
      expect(idle).toEqual({ events: [], next: null, resumeAfter: atHead.resumeAfter });

      const more = await cast(5, 8);
      const resumed = await walkUntil(more.length, tail.secretKey, idle.resumeAfter);
      expect(positionsOf(resumed)).toEqual(more);
      expect(resumed.at(-1)!.resumeAfter).toBe(encodeCursor(more.at(-1)!));
    });
  });

  it('streams every match as NDJSON', async () => {
    const response = await fetch(`${app.baseUrl}/v1/audit/events?poll=votes`, {
      headers: { authorization: `Bearer ${project.secretKey}`, accept: 'application/x-ndjson' },
    });
    expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = (await response.text()).trim().split('\n').map((line) => JSON.parse(line));
    const paged = (await audit('poll=votes&limit=1000')).body.events;
    expect(lines).toEqual(paged.slice(0, lines.length));
    expect(lines.length).toBeGreaterThanOrEqual(61);
  });

  it('refuses an NDJSON export newest first: the export is in commit order', async () => {
    const response = await audit('order=newest', { accept: 'application/x-ndjson' });
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'order', message: 'must be oldest for an NDJSON export' }]);
  });

  it('computes a tally as it stood at a past instant', async () => {
    await vote('stars', 'history', 'ann', 4);
    await vote('stars', 'history', 'bob', 2);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const then = new Date();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await vote('stars', 'history', 'ann', 0);
    await vote('stars', 'history', 'cy', 5);
    const past = await call(app, 'GET', `/v1/audit/polls/stars/tallies/history?at=${then.toISOString()}`, { key: project.secretKey });
    expect(past.body).toMatchObject({ poll: 'stars', kind: 'rating', target: 'history', count: 2, sum: 6, average: 3, histogram: { '2': 1, '4': 1 } });
    const now = await call(app, 'GET', `/v1/audit/polls/stars/tallies/history?at=${new Date().toISOString()}`, { key: project.secretKey });
    expect(now.body).toMatchObject({ count: 2, sum: 7, histogram: { '2': 1, '5': 1 } });
  });

  it.each([
    ['a public key', '/v1/audit/events', 'public', 403, undefined],
    ['a malformed from', '/v1/audit/events?from=yesterday', 'secret', 400, 'from'],
    ['a made-up cursor', '/v1/audit/events?after=nonsense', 'secret', 400, 'after'],
    ['a limit over 1000', '/v1/audit/events?limit=5000', 'secret', 400, 'limit'],
    ['an unknown order', '/v1/audit/events?order=random', 'secret', 400, 'order'],
    ['an as-of tally without at', '/v1/audit/polls/stars/tallies/x', 'secret', 400, 'at'],
    ['an as-of tally of an unknown poll', `/v1/audit/polls/nope/tallies/x?at=${new Date().toISOString()}`, 'secret', 404, undefined],
  ])('rejects %s', async (_, path, key, status, field) => {
    const response = await call(app, 'GET', path, { key: key === 'public' ? project.publicKey : project.secretKey });
    expect(response.status).toBe(status);
    if (field !== undefined) expect(response.body.errors).toContainEqual(expect.objectContaining({ field }));
  });
});
