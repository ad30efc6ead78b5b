import { request } from 'node:http';

export interface OpenedStreams {
  /** How many streams answered with each status (200 = open). */
  readonly statuses: Record<number, number>;
  /** Retry-After of the refusals, when every refusal had one. */
  readonly refusalsHadRetryAfter: boolean;
  /** Requests that got no answer at all (the connection failed), by error code. */
  readonly failed: Record<string, number>;
  close(): void;
}

/**
 * Opens `count` realtime streams of `targets` targets each, as fast as the server takes them, from
 * `addresses` client addresses (sent as X-Forwarded-For, which the server trusts from loopback),
 * and keeps the open ones open until `close`.
 */
export async function openStreams(baseUrl: string, options: { count: number; targets: number; key: string; poll: string; addresses: number }): Promise<OpenedStreams> {
  const query = [...Array.from({ length: options.targets }, (_, i) => `target=flood-${i}`), `key=${options.key}`].join('&');
  const statuses: Record<number, number> = {};
  let refusalsHadRetryAfter = true;
  const failed: Record<string, number> = {};
  const open: Array<{ destroy(): void }> = [];
  await Promise.all(
    Array.from({ length: options.count }, (_, index) =>
      new Promise<void>((resolve) => {
        const client = index % options.addresses;
        const address = `10.${client >> 16}.${(client >> 8) & 255}.${client & 255}`;
        const req = request(`${baseUrl}/v1/polls/${options.poll}/stream?${query}`, { headers: { 'x-forwarded-for': address }, agent: false }, (res) => {
          statuses[res.statusCode!] = (statuses[res.statusCode!] ?? 0) + 1;
          if (res.statusCode === 200) {
            open.push(req);
            res.resume();
          } else {
            if (res.headers['retry-after'] === undefined) refusalsHadRetryAfter = false;
            res.resume();
          }
          resolve();
        });
        req.on('error', (error: NodeJS.ErrnoException) => {
          failed[error.code ?? error.message] = (failed[error.code ?? error.message] ?? 0) + 1;
          resolve();
        });
        req.end();
      }),
    ),
  );
  return { statuses, refusalsHadRetryAfter, failed, close: () => open.forEach((req) => req.destroy()) };
}

/** All commands a Redis server ran, from `INFO commandstats`. */
export function redisCalls(info: string): number {
  return [...info.matchAll(/^cmdstat_\w+:calls=(\d+)/gm)].reduce((sum, [, calls]) => sum + Number(calls), 0);
}
