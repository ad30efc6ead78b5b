import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';
import { countVoteEvents } from '../support/fixtures.js';

let app: TestApp;
let project: { id: string; publicKey: string; secretKey: string };
const stuffer = '203.0.113.66';

beforeAll(async () => {
  app = await startTestApp({ trustProxy: true });
  project = await createProjectOverHttp(app, 'moderated', { votes: { kind: 'updown' }, likes: { kind: 'like' } });
});

afterAll(() => app.close());

const vote = (poll: string, target: string, voter: string, value: number, address: string) =>
  call(app, 'POST', `/v1/polls/${poll}/votes`, { key: project.publicKey, body: { target, voter, value }, headers: { 'x-forwarded-for': address } });
const retract = (body: Record<string, unknown>, key = project.secretKey) => call(app, 'POST', '/v1/moderation/retractions', { key, body });
const tally = async (target: string) => (await call(app, 'GET', `/v1/polls/votes/tallies/${target}`, { key: project.publicKey })).body;

/** Tally events of one target, read the way EventSource would. */
async function openStream(target: string) {
  const controller = new AbortController();
  const response = await fetch(`${app.baseUrl}/v1/polls/votes/stream?target=${target}&key=${project.publicKey}`, { signal: controller.signal });
  const tallies: { count: number; sum: number }[] = [];
  const reading = (async () => {
    let buffer = '';
    try {
      for await (const chunk of response.body!) {
        buffer += new TextDecoder().decode(chunk as Uint8Array);
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const data = /^data: (.*)$/m.exec(buffer.slice(0, end))?.[1];
          buffer = buffer.slice(end + 2);
          if (data !== undefined) tallies.push(JSON.parse(data));
        }
      }
    } catch {
      // aborted
    }
  })();
  return { tallies, close: async () => (controller.abort(), await reading) };
}

describe('moderation by the log', () => {
  it('counts first with a dry run, then retracts exactly the matched ballots, in the audit log and the live stream', async () => {
    for (let i = 0; i < 5; i += 1) await vote('votes', 'post', `sock-${i}`, 1, stuffer);
    await vote('votes', 'post', 'sock-gone', 1, stuffer);
    await vote('votes', 'post', 'sock-gone', 0, stuffer);
    await vote('likes', 'post', 'sock-0', 1, stuffer);
    await vote('votes', 'post', 'ann', 1, '198.51.100.1');
    const last = await vote('votes', 'post', 'bob', -1, '198.51.100.2');
    await call(app, 'GET', `/v1/polls/votes/tallies/post?minPosition=${last.body.position}&waitMs=10000`, { key: project.publicKey });
    expect(await tally('post')).toMatchObject({ count: 7, sum: 5 });
    const audit = await call(app, 'GET', '/v1/audit/events?voter=sock-0&poll=votes', { key: project.secretKey });
    const clientAddressHash = audit.body.events[0].metadata.clientAddressHash as string;

    const before = await countVoteEvents(app.database.db);
    const dryRun = await retract({ reason: 'ballot stuffing from one address', poll: 'votes', clientAddressHash, dryRun: true });
    expect(dryRun).toMatchObject({ status: 200, body: { ballots: 5, retracted: 0, dryRun: true } });
    expect(await countVoteEvents(app.database.db)).toBe(before);

    const stream = await openStream('post');
    await vi.waitFor(() => expect(stream.tallies.length).toBeGreaterThan(0));
    const done = await retract({ reason: 'ballot stuffing from one address', poll: 'votes', clientAddressHash });
    expect(done.body).toEqual({ ballots: 5, retracted: 5, dryRun: false });
    expect(await countVoteEvents(app.database.db)).toBe(before + 5);
    await vi.waitFor(() => expect(stream.tallies.at(-1)).toMatchObject({ count: 2, sum: 0 }), { timeout: 5000 });
    await stream.close();
    expect(await tally('post')).toMatchObject({ count: 2, sum: 0, up: 1, down: 1 });
    expect((await call(app, 'GET', '/v1/polls/likes/tallies/post', { key: project.publicKey })).body.count).toBe(1);

    const secretFingerprint = (await call(app, 'GET', '/v1/projects/current', { key: project.secretKey })).body.keys.find((key: { kind: string }) => key.kind === 'secret').fingerprint;
    const retractions = (await call(app, 'GET', '/v1/audit/events?poll=votes&target=post&limit=100', { key: project.secretKey })).body.events.filter((e: { metadata: { source: string } }) => e.metadata.source === 'moderation');
    expect(retractions.map((e: { voter: string }) => e.voter).sort()).toEqual(['sock-0', 'sock-1', 'sock-2', 'sock-3', 'sock-4']);
    expect(retractions[0]).toMatchObject({ type: 'VoteRetracted', value: 0, previous: 1, metadata: { source: 'moderation', reason: 'ballot stuffing from one address', keyFingerprint: secretFingerprint } });

    expect((await retract({ reason: 'again', poll: 'votes', clientAddressHash })).body).toEqual({ ballots: 0, retracted: 0, dryRun: false });
  });

  it('retracts one voter\'s every active ballot across polls', async () => {
    await vote('votes', 'a', 'troll', 1, '198.51.100.9');
    const last = await vote('likes', 'b', 'troll', 1, '198.51.100.10');
    await call(app, 'GET', `/v1/polls/likes/tallies/b?minPosition=${last.body.position}&waitMs=10000`, { key: project.publicKey });
    expect((await retract({ reason: 'banned account', voter: 'troll', dryRun: true })).body).toEqual({ ballots: 2, retracted: 0, dryRun: true });
    expect((await retract({ reason: 'banned account', voter: 'troll' })).body).toEqual({ ballots: 2, retracted: 2, dryRun: false });
  });

  it('needs the secret key, a reason and a voter or an address hash', async () => {
    const before = await countVoteEvents(app.database.db);
    expect((await retract({ reason: 'x', voter: 'ann' }, project.publicKey)).status).toBe(403);
    expect((await retract({ voter: 'ann' })).status).toBe(400);
    expect(await retract({ reason: 'everything', poll: 'votes' })).toMatchObject({ status: 400, body: { errors: [{ field: 'voter' }] } });
    expect((await retract({ reason: 'x', clientAddressHash: 'not-a-hash' })).status).toBe(400);
    expect(await countVoteEvents(app.database.db)).toBe(before);
  });
});
