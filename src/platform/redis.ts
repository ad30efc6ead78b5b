import { createClient } from 'redis';

export type RedisClient = ReturnType<typeof createClient>;

export async function connectRedis(url: string, onError: (error: Error) => void = () => {}): Promise<RedisClient> {
  const client = createClient({ url });
  // node-redis reconnects by itself; without a listener an 'error' event would end the process.
  client.on('error', onError);
  await client.connect();
  return client;
}
