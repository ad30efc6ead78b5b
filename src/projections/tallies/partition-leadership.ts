import pg from 'pg';
import type { Logger } from 'pino';
import { advisoryLockClass } from '../../platform/advisory-locks.js';
import { drawEpoch, type LeadershipOptions, pause } from './leadership.js';
import type { Partition } from './partitions.js';

const memberLockClass = advisoryLockClass('projector', 'members');
const partitionLockClass = advisoryLockClass('projector', 'partitions');

export interface PartitionedLeadershipOptions extends LeadershipOptions {
  /** How often each process counts the live projector processes and takes or lets go of partitions. */
  readonly rebalanceMs?: number;
}

export type PartitionWork = (partition: Partition, termEnded: AbortSignal, nextEpoch: (floor: number) => Promise<number>) => Promise<void>;

interface Term {
  /** Aborted when this process lets go of the partition (or its session ends). */
  readonly ended: AbortController;
  readonly done: Promise<void>;
}

/**
 * The projector processes of one database share the partitions fairly, and any one may die.
 * Each process holds one PostgreSQL session with a shared "member" advisory lock, and an
 * exclusive advisory lock per partition it leads. Every `rebalanceMs` it counts the members
 * (sessions holding the member lock; PostgreSQL drops a dead process's locks with its session)
 * and leads its fair share, ceil(partitions / members): it takes free partitions while below it
 * and lets go of its highest while above it, once their work has stopped. A lost session ends
 * every term of the process, which joins again on a new one. Each term draws its leadership
 * epochs on the session that holds its lock, as a single leader does (PostgresLeadership).
 */
export class PartitionedLeadership {
  constructor(
    private readonly connectionString: string,
    private readonly partitions: number,
    private readonly logger: Logger,
    private readonly options: PartitionedLeadershipOptions = {},
  ) {}

  /** Runs `work` for each partition this process leads, for as long as it leads it, until `signal` aborts. */
  async lead(work: PartitionWork, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const client = new pg.Client({ connectionString: this.connectionString, application_name: 'clickvote-projector', keepAlive: true });
      const sessionEnded = new AbortController();
      const end = (error: Error) => {
        if (sessionEnded.signal.aborted) return;
        this.logger.error({ err: error }, 'projector lost its leadership connection');
        sessionEnded.abort(error);
      };
      client.on('error', end);
      client.on('end', () => end(new Error('leadership connection closed')));
      const { wakeUp } = this.options;
      if (wakeUp !== undefined) client.on('notification', wakeUp.onNotification);
      const terms = new Map<number, Term>();
      try {
        await client.connect();
        if (signal.aborted) break;
        await client.query('select pg_advisory_lock_shared($1::int4, 0)', [memberLockClass]);
        if (wakeUp !== undefined) await client.query(`listen ${pg.escapeIdentifier(wakeUp.channel)}`);
        const session = AbortSignal.any([signal, sessionEnded.signal]);
        while (!session.aborted) {
          await this.rebalance(client, terms, work, session);
          await pause(this.options.rebalanceMs ?? 1000, session);
        }
      } catch (error) {
        if (!signal.aborted) this.logger.error({ err: error }, 'projector leadership connection failed; joining again');
      } finally {
        await this.letGoOfAll(client, terms, sessionEnded);
      }
      if (!signal.aborted) await pause(this.options.retryMs ?? 1000, signal);
    }
  }

  /** Leads this process's fair share of the partitions: ceil(partitions / live projector processes). */
  private async rebalance(client: pg.Client, terms: Map<number, Term>, work: PartitionWork, session: AbortSignal): Promise<void> {
    const { rows } = await client.query<{ members: number }>(
      `select count(*)::int as members from pg_locks
       where locktype = 'advisory' and granted and classid = $1::int4::oid and objid = 0 and objsubid = 2
         and database = (select oid from pg_database where datname = current_database())`,
      [memberLockClass],
    );
    const share = Math.ceil(this.partitions / Math.max(1, rows[0]!.members));
    for (const index of [...terms.keys()].sort((a, b) => b - a)) {
      if (terms.size <= share) break;
      await this.letGo(client, terms, index);
    }
    // Each process starts looking at another partition, so processes that join together rarely race for one.
    const start = Math.floor(Math.random() * this.partitions);
    for (let step = 0; step < this.partitions && terms.size < share && !session.aborted; step += 1) {
      const index = (start + step) % this.partitions;
      if (terms.has(index)) continue;
      const { rows: locked } = await client.query<{ taken: boolean }>('select pg_try_advisory_lock($1::int4, $2::int4) as taken', [partitionLockClass, index]);
      if (locked[0]!.taken) this.begin(client, terms, work, index, session);
    }
  }

  private begin(client: pg.Client, terms: Map<number, Term>, work: PartitionWork, index: number, session: AbortSignal): void {
    const partition = { index, count: this.partitions };
    const ended = new AbortController();
    this.logger.info({ partition: index, partitions: this.partitions }, 'projector leads a partition');
    const done = work(partition, AbortSignal.any([session, ended.signal]), (floor) => drawEpoch(client, floor))
      .catch((error: unknown) => this.logger.error({ err: error, partition: index }, 'projector partition work failed'))
      .then(async () => {
        // Work that stopped on its own lets the partition go, so another process may take it.
        if (terms.get(index)?.ended !== ended) return;
        terms.delete(index);
        await client.query('select pg_advisory_unlock($1::int4, $2::int4)', [partitionLockClass, index]).catch(() => {});
      });
    terms.set(index, { ended, done });
  }

  /** Stops the partition's work, then unlocks it: never two writers at once. */
  private async letGo(client: pg.Client, terms: Map<number, Term>, index: number): Promise<void> {
    const term = terms.get(index)!;
    terms.delete(index);
    term.ended.abort();
    await term.done;
    await client.query('select pg_advisory_unlock($1::int4, $2::int4)', [partitionLockClass, index]);
    this.logger.info({ partition: index, partitions: this.partitions }, 'projector let go of a partition for another process');
  }

  private async letGoOfAll(client: pg.Client, terms: Map<number, Term>, sessionEnded: AbortController): Promise<void> {
    const stopping = [...terms.values()];
    terms.clear();
    for (const term of stopping) term.ended.abort();
    await Promise.all(stopping.map((term) => term.done));
    if (!sessionEnded.signal.aborted) await client.query('select pg_advisory_unlock_all()').catch(() => {});
    sessionEnded.abort();
    await client.end().catch(() => {});
  }
}
