import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export type Request = { method?: string; path?: string; body?: string; headers?: Record<string, string> };

export const connections = 100;

/** What one contender did in one slice of a comparison. */
export interface Slice {
  readonly done: number;
  readonly failed: number;
  readonly seconds: number;
  readonly p99: number;
  /** CPU time of the answering process during the slice, in ms; NaN where not measured. */
  readonly cpuMs: number;
}

export interface Load {
  readonly rate: number;
  /** The worst slice's p99. */
  readonly p99: number;
  readonly failed: number;
  /** CPU time of the answering process per request, in µs: on a shared machine steadier than rates. */
  readonly cpuPerRequest: number;
}

export type Contender = (seconds: number) => Promise<Slice>;

/**
 * Runs the contenders in turns of `sliceSeconds`, each round starting with the next one, until
 * each has run `seconds`: on a machine others share, a load that drifts then falls on all alike.
 */
export async function interleave<T extends readonly Contender[]>(seconds: number, sliceSeconds: number, contenders: T): Promise<{ [K in keyof T]: Load }> {
  const slices: Slice[][] = contenders.map(() => []);
  const rounds = Math.max(1, Math.round(seconds / sliceSeconds));
  for (let round = 0; round < rounds; round += 1) {
    for (let turn = 0; turn < contenders.length; turn += 1) {
      const index = (round + turn) % contenders.length;
      slices[index]!.push(await contenders[index]!(Math.max(1, Math.round(seconds / rounds))));
    }
  }
  const loads = slices.map((runs): Load => {
    const sum = (pick: (slice: Slice) => number) => runs.reduce((total, slice) => total + pick(slice), 0);
    return {
      rate: sum((slice) => slice.done) / sum((slice) => slice.seconds),
      p99: Math.max(...runs.map((slice) => slice.p99)),
      failed: sum((slice) => slice.failed),
      cpuPerRequest: (sum((slice) => slice.cpuMs) * 1000) / Math.max(1, sum((slice) => slice.done)),
    };
  });
  return loads as { [K in keyof T]: Load };
}

/** An HTTP contender: autocannon with `connections` against `url`, CPU read from `pid`. */
export function httpContender(target: { url: string; pid: number | undefined }, requests: (() => Request)[]): Contender {
  return async (seconds) => {
    const cpuBefore = processCpuMs(target.pid);
    const result = await autocannon({
      url: target.url,
      connections,
      duration: seconds,
      requests: requests.map((make) => ({ setupRequest: (request: Request) => ({ ...request, ...make() }) })),
    } as autocannon.Options);
    return {
      done: result.requests.total,
      failed: result.non2xx + result.errors + result.timeouts,
      seconds: result.duration,
      p99: result.latency.p99,
      cpuMs: processCpuMs(target.pid) - cpuBefore,
    };
  };
}

/** User and system CPU time of a process so far, in ms, from /proc (clock ticks of 10 ms). */
function processCpuMs(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
