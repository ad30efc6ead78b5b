import { vi } from 'vitest';
import { call } from '../../support/app.js';

/** HTTP calls to a Clickvote running in a container, by its published address. */
export interface Service {
  readonly baseUrl: string;
}

/** Waits (bounded) until `path` answers 200; containers start slowly on a busy machine. */
export async function waitForStatus(service: Service, path = '/readyz', timeout = 180_000): Promise<void> {
  await vi.waitFor(
    async () => {
      const response = await fetch(service.baseUrl + path, { signal: AbortSignal.timeout(5000) });
      if (response.status !== 200) throw new Error(`${service.baseUrl}${path} answered ${response.status}`);
    },
    { timeout, interval: 500 },
  );
}

export interface Acknowledged {
  readonly voter: string;
  readonly position: string;
}

/** One vote; its acknowledgement, or undefined when the service refused or dropped it. */
export async function castVote(service: Service, key: string, poll: string, vote: { target: string; voter: string; value: number }): Promise<Acknowledged | undefined> {
  const response = await call(service, 'POST', `/v1/polls/${poll}/votes`, { key, body: vote }).catch(() => undefined);
  return response?.status === 200 ? { voter: vote.voter, position: String(response.body.position) } : undefined;
}

/** The tally once the read model has passed `position` (a projector had to apply it). */
export async function tallyAfter(service: Service, key: string, poll: string, target: string, position: string): Promise<any> {
  let tally: any;
  await vi.waitFor(
    async () => {
      const response = await call(service, 'GET', `/v1/polls/${poll}/tallies/${target}?minPosition=${encodeURIComponent(position)}`, { key });
      if (response.status !== 200) throw new Error(`tally answered ${response.status}`);
      tally = response.body;
    },
    { timeout: 120_000, interval: 250 },
  );
  return tally;
}

/** Every event of a poll in the log, through the audit export (secret key). */
export async function loggedEvents(service: Service, secretKey: string, poll: string): Promise<{ voter: string; target: string; position: string; value: number }[]> {
  const response = await fetch(`${service.baseUrl}/v1/audit/events?poll=${poll}`, { headers: { authorization: `Bearer ${secretKey}`, accept: 'application/x-ndjson' } });
  if (response.status !== 200) throw new Error(`audit export answered ${response.status}`);
  return (await response.text())
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
}
