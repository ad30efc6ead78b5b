import calculateSlot from 'cluster-key-slot';
import { createClient, createCluster } from 'redis';

export type SingleRedis = ReturnType<typeof createClient>;
export type RedisCluster = ReturnType<typeof createCluster>;

/**
 * One Redis or a Redis Cluster: every command the service sends has the same signature on both,
 * so the roles take either. What differs (a raw command, SCAN, a multi-key UNLINK) goes through
 * the few functions below.
 */
export type RedisClient = SingleRedis | RedisCluster;

/** Where the read model lives: REDIS_URL, or REDIS_CLUSTER_NODES (`host:port` each). */
export type RedisTarget = { readonly url: string } | { readonly clusterNodes: readonly string[] };

/** How soon a cluster asks again for the slots while a node is unreachable, until a replica has taken over. */
const rediscoverEveryMs = 250;

export async function connectRedis(url: string, onError?: (error: Error) => void): Promise<SingleRedis>;
export async function connectRedis(target: RedisTarget, onError?: (error: Error) => void): Promise<RedisClient>;
export async function connectRedis(target: RedisTarget | string, onError: (error: Error) => void = () => {}): Promise<RedisClient> {
  const where = typeof target === 'string' ? { url: target } : target;
  if ('url' in where) {
    const client = createClient({ url: where.url });
    // node-redis reconnects by itself; without a listener an 'error' event would end the process.
    client.on('error', onError);
    await client.connect();
    return client;
  }
  return connectCluster(createCluster({ rootNodes: where.clusterNodes.map((node) => ({ url: `redis://${node}` })) }), onError);
}

/** A second connection to the same Redis (a subscriber's), following a cluster's failover as the first does. */
export async function connectDuplicate(redis: RedisClient, onError: (error: Error) => void = () => {}): Promise<RedisClient> {
  if (isCluster(redis)) return connectCluster(redis.duplicate(), onError);
  const client = redis.duplicate();
  client.on('error', onError);
  await client.connect();
  return client;
}

async function connectCluster(cluster: RedisCluster, onError: (error: Error) => void): Promise<RedisCluster> {
  cluster.on('error', onError);
  cluster.on('node-error', (error: Error) => {
    onError(error);
    void followFailover(cluster);
  });
  await cluster.connect();
  return cluster;
}

export const isCluster = (redis: RedisClient): redis is RedisCluster => 'masters' in redis;

/**
 * node-redis asks a cluster for its slots again only on a MOVED reply (node-redis #2141, #2806):
 * after a master dies, commands for its slots wait on its dead connection for ever. So while a
 * node is unreachable, ask for the slots every 250 ms: once a replica has taken over, the dead
 * master drops out, the commands waiting on it fail (their callers retry) and new ones go to the
 * new master.
 */
const following = new WeakSet<RedisCluster>();
async function followFailover(cluster: RedisCluster): Promise<void> {
  if (following.has(cluster)) return;
  following.add(cluster);
  try {
    while (cluster.isOpen && cluster.masters.some((master) => master.client?.isReady === false)) {
      const reachable = cluster.masters.find((master) => master.client?.isReady === true)?.client;
      // From a master that answers, else from a root node (node-redis then tries the others).
      await cluster._slots.rediscover(reachable ?? ({ options: cluster._options.rootNodes[0] } as never)).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, rediscoverEveryMs));
    }
  } finally {
    following.delete(cluster);
  }
}

/** A command given as one array (never spread into a call: a big script call outgrows the stack), routed by its first key on a cluster. */
export function sendKeyedCommand(redis: RedisClient, firstKey: string, command: string[]): Promise<unknown> {
  return isCluster(redis) ? redis.sendCommand(firstKey, false, command) : redis.sendCommand(command);
}

/**
 * WAIT on each node that holds one of `keys` (or on every master, after writes spread over all of
 * them, as a bulk load's): true once `replicas` of its replicas have every write this connection
 * sent it so far, false if one did not within `timeoutMs`. Replication is asynchronous: a master
 * killed before its replica has a write loses it when the replica takes over.
 */
export async function waitForReplicas(redis: RedisClient, keys: readonly string[] | 'every master', replicas: number, timeoutMs: number): Promise<boolean> {
  const command = ['WAIT', String(replicas), String(timeoutMs)];
  if (!isCluster(redis)) return Number(await redis.sendCommand(command)) >= replicas;
  // One WAIT per master, on the connection that carried the writes.
  const acknowledged = await Promise.all(
    keys === 'every master'
      ? [...redis.masters].map(async (master) => (await redis.nodeClient(master)).sendCommand(command))
      : [...keyOfEachMaster(redis, keys).values()].map((key) => redis.sendCommand(key, false, command)),
  );
  return acknowledged.every((count) => Number(count) >= replicas);
}

/** One of `keys` per master that holds any: a command routed by it reaches that master. */
function keyOfEachMaster(redis: RedisCluster, keys: readonly string[]): Map<string, string> {
  const byMaster = new Map<string, string>();
  for (const key of keys) {
    const master = redis.slots[calculateSlot(key)]?.master.address;
    if (master !== undefined && !byMaster.has(master)) byMaster.set(master, key);
  }
  return byMaster;
}

/** SCAN batches of the keys matching `pattern`; on a cluster, of every master in turn. */
export async function* scanKeys(redis: RedisClient, pattern: string, count = 1000): AsyncGenerator<string[]> {
  if (!isCluster(redis)) {
    yield* redis.scanIterator({ MATCH: pattern, COUNT: count });
    return;
  }
  for (const master of [...redis.masters]) {
    const node = await redis.nodeClient(master);
    yield* node.scanIterator({ MATCH: pattern, COUNT: count });
  }
}

/** UNLINKs keys of any slots: one command on one Redis, one per key on a cluster (where one command's keys must share a slot). */
export async function unlinkKeys(redis: RedisClient, keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0;
  if (!isCluster(redis)) return redis.unlink([...keys]);
  const removed = await Promise.all(keys.map((key) => redis.unlink(key)));
  return removed.reduce((sum, count) => sum + count, 0);
}

/** Removes every key matching `pattern`: SCAN and UNLINK, never KEYS, so Redis keeps answering meanwhile. */
export async function unlinkMatching(redis: RedisClient, pattern: string): Promise<number> {
  let removed = 0;
  for await (const batch of scanKeys(redis, pattern)) removed += await unlinkKeys(redis, batch);
  return removed;
}
