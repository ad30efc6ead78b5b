import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TallyKey } from '../../src/domain/identity-keys.js';
import { definePollRules } from '../../src/domain/poll.js';
import { rankScores } from '../../src/domain/ranking.js';
import { applyBallotChange, emptyTally, type Tally } from '../../src/domain/tally.js';
import { MemoryTallyStore } from '../../src/projections/tallies/memory-tally-store.js';
import { connectRedis, unlinkKeys } from '../../src/platform/redis.js';
import { RedisKeys } from '../../src/projections/tallies/redis-keys.js';
import { RedisTallyStore } from '../../src/projections/tallies/redis-tally-store.js';
import type { PollChange, TallyChange } from '../../src/projections/tallies/tally-projection.js';
import type { TallyStore, WriteRefusedError } from '../../src/projections/tallies/tally-store.js';
import { createTestRedis, startPrivateRedisServer, type TestRedis } from '../support/redis.js';
import { createClusterTestRedis } from '../support/redis-cluster.js';

const redises = [
  { name: 'one Redis', redis: await createTestRedis() },
  { name: 'a Redis Cluster', redis: await createClusterTestRedis() },
];
const stores: { name: string; open: () => Promise<TallyStore> }[] = [
  { name: 'in-process', open: async () => new MemoryTallyStore() },
  ...redises.flatMap(({ name, redis }) => (redis === undefined ? [] : [{ name: `Redis (${name})`, open: () => RedisTallyStore.open(redis.client, `${redis.prefix}:${randomUUID().slice(0, 8)}`) }])),
];

afterAll(() => Promise.all(redises.map(({ redis }) => (redis as TestRedis | undefined)?.dispose())));

const updown = definePollRules('updown');
const change = (key: TallyKey, before: Tally, moves: [voter: string, previous: number, value: number][], emptied: string[] = []): TallyChange => {
  const tally = moves.reduce((t, [, previous, value]) => applyBallotChange(t, previous, value), before);
  return { key, tally, emptiedBuckets: emptied, voters: new Map(moves.map(([voter, , value]) => [voter, value])), scores: rankScores(updown, tally) };
};
/** One poll's change of one batch: its tallies, written only while the poll holds `expected`. */
const pollChange = (expected: string | undefined, checkpoint: string, ...tallies: TallyChange[]): PollChange[] => [
  { poll: { projectId: tallies[0]!.key.projectId, poll: tallies[0]!.key.poll }, expectedCheckpoint: expected, checkpoint, tallies },
];

describe.each(stores)('the $name tally store', ({ open }) => {
  let store: TallyStore;
  const projectId = randomUUID();
  const poll = { projectId, poll: 'votes' };
  const key = (target: string) => ({ ...poll, target });

  beforeAll(async () => {
    store = await open();
  });

  it('starts empty: no checkpoint, zero tallies for unknown targets', async () => {
    expect(await store.readCheckpoint()).toBeUndefined();
    expect(await store.readTallies(poll, ['nope'], 'ann')).toEqual([{ tally: emptyTally, voterValue: 0 }]);
  });

  it('applies tallies, voters and the checkpoint together', async () => {
    const first = change(key('a'), emptyTally, [['ann', 0, 1], ['bob', 0, -1], ['cy', 0, 1]]);
    await store.applyChanges(pollChange(undefined, '10.2', first, change(key('b'), emptyTally, [['ann', 0, 1]])), { from: undefined, to: '10.2' });
    expect(await store.readCheckpoint()).toBe('10.2');
    const readings = await store.readTallies(poll, ['a', 'b', 'zzz'], 'bob');
    expect(readings).toEqual([
      { tally: { count: 3, sum: 1, up: 2, down: 1, histogram: { '1': 2, '-1': 1 } }, voterValue: -1 },
      { tally: { count: 1, sum: 1, up: 1, down: 0, histogram: { '1': 1 } }, voterValue: 0 },
      { tally: emptyTally, voterValue: 0 },
    ]);
    const loaded = await store.loadTallies([key('a'), key('nope')]);
    expect([...loaded.tallies.values()]).toEqual([first.tally]);
    expect([...loaded.checkpoints.values()]).toEqual(['10.2']);
    expect((await store.loadTallies([{ projectId, poll: 'other', target: 'a' }])).checkpoints.size).toBe(0);
  });

  it('answers tallies and the top list with the checkpoint they stand at', async () => {
    const plain = await store.readTallies(poll, ['a', 'b'], 'ann');
    expect(await store.readTalliesWithCheckpoint(poll, ['a', 'b'], 'ann')).toEqual({ checkpoint: '10.2', value: plain });
    expect(await store.readTopWithCheckpoint(poll, 'count', 5)).toEqual({ checkpoint: '10.2', value: await store.readTop(poll, 'count', 5) });
  });

  it('removes emptied histogram buckets and retracted voters', async () => {
    const [stored] = await store.readTallies(poll, ['a']);
    await store.applyChanges(pollChange('10.2', '11.1', change(key('a'), stored!.tally, [['bob', -1, 0]], ['-1'])), { from: '10.2', to: '11.1' });
    const [after] = await store.readTallies(poll, ['a'], 'bob');
    expect(after).toEqual({ tally: { count: 2, sum: 2, up: 2, down: 0, histogram: { '1': 2 } }, voterValue: 0 });
  });

  it('refuses a change folded from a checkpoint the poll no longer holds', async () => {
    const [stored] = await store.readTallies(poll, ['a']);
    await expect(store.applyChanges(pollChange('10.2', '12.1', change(key('a'), stored!.tally, [['dee', 0, 1]])), { from: '11.1', to: '12.1' })).rejects.toMatchObject({ reason: 'poll-moved' });
    expect((await store.readTallies(poll, ['a']))[0]!.tally.count).toBe(2);
  });

  it('refuses to move a checkpoint it does not hold, writing nothing', async () => {
    const [stored] = await store.readTallies(poll, ['a']);
    const write = store.applyChanges(pollChange('11.1', '12.1', change(key('a'), stored!.tally, [['dee', 0, 1]])), { from: '10.2', to: '12.1' });
    await expect(write).rejects.toMatchObject({ reason: 'checkpoint-moved' });
    expect((await store.readTallies(poll, ['a']))[0]!.tally.count).toBe(2);
    expect(await store.readCheckpoint()).toBe('11.1');
    expect([...(await store.loadTallies([key('a')])).checkpoints.values()]).toEqual(['11.1']);
  });

  it('ranks by count, sum, average and wilson, dropping tallies that fall to zero', async () => {
    const c = change(key('c'), emptyTally, [['v1', 0, 1], ['v2', 0, 1], ['v3', 0, 1], ['v4', 0, -1]]);
    await store.applyChanges(pollChange('11.1', '13.1', c), { from: '11.1', to: '13.1' });
    expect((await store.readTop(poll, 'count', 10)).map((r) => r.target)).toEqual(['c', 'a', 'b']);
    expect((await store.readTop(poll, 'sum', 2)).map((r) => r.target)).toEqual(['c', 'a']);
    expect((await store.readTop(poll, 'wilson', 1))[0]).toEqual({ target: 'a', tally: expect.objectContaining({ count: 2 }) });
    const [b] = await store.readTallies(poll, ['b']);
    await store.applyChanges(pollChange('13.1', '14.1', change(key('b'), b!.tally, [['ann', 1, 0]], ['1'])), { from: '13.1', to: '14.1' });
    expect((await store.readTop(poll, 'count', 10)).map((r) => r.target)).toEqual(['c', 'a']);
  });

  it('keeps ids with separators, braces and percent signs apart', async () => {
    const targets = ['x:y', 'x', 'y', '{x}', '%3A', 'x%3Ay', ':'];
    await store.applyChanges(
      pollChange('14.1', '20.9', ...targets.map((target, i) => change(key(target), emptyTally, Array.from({ length: i + 1 }, (_, v) => [`v${v}`, 0, 1] as [string, number, number])))),
      { from: '14.1', to: '20.9' },
    );
    const readings = await store.readTallies(poll, targets);
    expect(readings.map((reading) => reading.tally.count)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('keeps voters apart whatever their ids hold: quotes, backslashes, control characters, any script, thousands in one batch', async () => {
    const odd = ['"q"', 'back\\slash', 'tab\tnew\nline\u0001', 'ü 日本 🎉', '[1,2]', '{}', 'null', '0'];
    const many = Array.from({ length: 2600 }, (_, v) => `m${v}`);
    const moves = [...odd, ...many].map((voter, i) => [voter, 0, i % 2 === 0 ? 1 : -1] as [string, number, number]);
    await store.applyChanges(pollChange('20.9', '21.1', change(key('odd'), emptyTally, moves)), { from: '20.9', to: '21.1' });
    for (const [voter, , value] of [...moves.slice(0, odd.length), moves.at(-1)!]) {
      expect((await store.readTallies(poll, ['odd'], voter))[0]!.voterValue).toBe(value);
    }
    const [before] = await store.readTallies(poll, ['odd']);
    await store.applyChanges(pollChange('21.1', '22.1', change(key('odd'), before!.tally, [[odd[0]!, 1, 0], [odd[2]!, 1, 0]])), { from: '21.1', to: '22.1' });
    expect((await store.readTallies(poll, ['odd'], odd[0]))[0]!.voterValue).toBe(0);
    expect((await store.readTallies(poll, ['odd'], odd[2]))[0]).toMatchObject({ tally: { count: moves.length - 2 }, voterValue: 0 });
    expect((await store.readTallies(poll, ['odd'], odd[1]))[0]!.voterValue).toBe(-1);
  });
});

const poll = { projectId: randomUUID(), poll: 'votes' };
const vote = (voter: string, expected: string | undefined, checkpoint: string, before = emptyTally) =>
  pollChange(expected, checkpoint, change({ ...poll, target: 'a' }, before, [[voter, 0, 1]]));
const refusal = (write: Promise<void>) => write.then(() => 'written', (error: WriteRefusedError) => error.reason);

describe('the redis tally store', () => {
  it('loads its scripts again after Redis forgot them', async (context) => {
    const server = await startPrivateRedisServer();
    if (server === undefined) context.skip();
    const client = await connectRedis(server!.url);
    try {
      const store = await RedisTallyStore.open(client, 'cv');
      await store.applyChanges(vote('ann', undefined, '1.1'), { from: undefined, to: '1.1' });
      // As after a Redis restart: the server knows no script.
      await client.scriptFlush();
      await store.applyChanges(vote('bob', '1.1', '1.2', (await store.readTallies(poll, ['a']))[0]!.tally), { from: '1.1', to: '1.2' });
      expect((await store.readTallies(poll, ['a']))[0]!.tally.count).toBe(2);
    } finally {
      await client.quit();
      await server!.stop();
    }
  });
});

describe.each(redises)('the redis tally store on $name', ({ redis }) => {
  it('refuses writes to a generation no longer live, and the writes of a rebuild once the generation it replaces is not live', async (context) => {
    if (redis === undefined) context.skip();
    const prefix = `${redis!.prefix}:flip`;
    const live = await RedisTallyStore.open(redis!.client, prefix);
    const rebuild = RedisTallyStore.forRebuild(redis!.client, prefix, 2, 1);
    expect(await refusal(rebuild.applyChanges(vote('ann', undefined, '1.1'), { from: undefined, to: '1.1' }))).toBe('written');
    await redis!.client.set(RedisKeys.generationKey(prefix), '2');
    expect(await refusal(live.applyChanges(vote('bob', undefined, '1.2'), { from: undefined, to: '1.2' }))).toBe('generation-moved');
    expect(await refusal(rebuild.applyChanges(vote('cy', '1.1', '1.3'), { from: '1.1', to: '1.3' }))).toBe('generation-moved');
    expect(await redis!.client.exists(new RedisKeys(prefix, 1).checkpoint())).toBe(0);
    expect(await live.followLiveGeneration()).toBe(true);
    expect(await live.readCheckpoint()).toBe('1.1');
  });

  it('reads the live generation, never one a rebuild has replaced and unlinked', async (context) => {
    if (redis === undefined) context.skip();
    const prefix = `${redis!.prefix}:reader`;
    const reader = await RedisTallyStore.open(redis!.client, prefix);
    const live = await RedisTallyStore.open(redis!.client, prefix);
    await live.applyChanges(vote('ann', undefined, '1.1'), { from: undefined, to: '1.1' });
    expect((await reader.readTallies(poll, ['a']))[0]!.tally.count).toBe(1);
    const rebuilt = RedisTallyStore.forRebuild(redis!.client, prefix, 2, 1);
    const both = pollChange(undefined, '1.2', change({ ...poll, target: 'a' }, emptyTally, [['ann', 0, 1]]), change({ ...poll, target: 'b' }, emptyTally, [['bob', 0, 1]]));
    await rebuilt.applyChanges(both, { from: undefined, to: '1.2' });
    await redis!.client.set(RedisKeys.generationKey(prefix), '2');
    await unlinkKeys(redis!.client, [new RedisKeys(prefix, 1).tally({ ...poll, target: 'a' }), new RedisKeys(prefix, 1).checkpoint()]);
    expect(await reader.readTalliesWithCheckpoint(poll, ['a', 'b'])).toMatchObject({ checkpoint: '1.2', value: [{ tally: { count: 1 } }, { tally: { count: 1 } }] });
  });

  it('refuses the writes of a deposed leader, and lets the new one pass a fence left by older leaders', async (context) => {
    if (redis === undefined) context.skip();
    const prefix = `${redis!.prefix}:fence`;
    const [old, next] = [await RedisTallyStore.open(redis!.client, prefix), await RedisTallyStore.open(redis!.client, prefix)];
    expect(await old.claimWriter(5)).toBe(5);
    expect(await refusal(old.applyChanges(vote('ann', undefined, '1.1'), { from: undefined, to: '1.1' }))).toBe('written');
    expect(await next.claimWriter(4)).toBe(5);
    expect(await next.claimWriter(6)).toBe(6);
    expect(await refusal(old.applyChanges(vote('bob', '1.1', '1.2'), { from: '1.1', to: '1.2' }))).toBe('deposed');
    expect(await refusal(next.applyChanges(vote('cy', '1.1', '1.3'), { from: '1.1', to: '1.3' }))).toBe('written');
    expect(await next.readCheckpoint()).toBe('1.3');
  });

  it("refuses at the poll's own guard a deposed leader's batch that got past the fence, writing nothing of it", async (context) => {
    if (redis === undefined) context.skip();
    const prefix = `${redis!.prefix}:pollfence`;
    const [old, next] = [await RedisTallyStore.open(redis!.client, prefix), await RedisTallyStore.open(redis!.client, prefix)];
    expect(await old.claimWriter(5)).toBe(5);
    await old.applyChanges(vote('ann', undefined, '1.1'), { from: undefined, to: '1.1' });
    expect(await next.claimWriter(6)).toBe(6);
    await next.applyChanges(vote('bob', '1.1', '1.2', (await next.readTallies(poll, ['a']))[0]!.tally), { from: '1.1', to: '1.2' });
    // The old leader checked the fence before the new one took over; its poll write arrives after.
    expect(await refusal(old.applyPolls(vote('cy', '1.2', '1.3', (await old.readTallies(poll, ['a']))[0]!.tally), '1.2'))).toBe('deposed');
    expect(await next.readTalliesWithCheckpoint(poll, ['a'], 'cy')).toMatchObject({ checkpoint: '1.2', value: [{ tally: { count: 2 }, voterValue: 0 }] });
  });

  it('writes a poll of thousands of changed tallies with one command per key, and reads them back in one call per thousand', async (context) => {
    if (redis === undefined) context.skip();
    const store = await RedisTallyStore.open(redis!.client, `${redis!.prefix}:wide`);
    const targets = Array.from({ length: 2500 }, (_, i) => `w${i}`);
    const wide = pollChange(undefined, '1.1', ...targets.map((target, i) => change({ ...poll, target }, emptyTally, Array.from({ length: 1 + (i % 3) }, (_, v) => [`v${v}`, 0, 1] as [string, number, number]))));
    await store.applyChanges(wide, { from: undefined, to: '1.1' });
    const readings = await store.readTallies(poll, targets, 'v2');
    expect(readings.map((reading) => [reading.tally.count, reading.voterValue])).toEqual(targets.map((_, i) => [1 + (i % 3), i % 3 === 2 ? 1 : 0]));
    expect((await store.readTop(poll, 'count', 3)).map((entry) => entry.tally.count)).toEqual([3, 3, 3]);
  });
});
