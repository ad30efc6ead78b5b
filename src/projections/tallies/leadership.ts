import pg from 'pg';
import type { Logger } from 'pino';
import { advisoryLockKey } from '../../platform/advisory-locks.js';

const projectorLockKey = advisoryLockKey('projector', 'tallies');

export interface LeadershipOptions {
  /** LISTENed to on the leader's connection: a notification there wakes the projector. */
  readonly wakeUp?: { readonly channel: string; readonly onNotification: () => void };
  /** Pause before trying again after the connection was lost or could not be opened. */
  readonly retryMs?: number;
}

/**
 * One projector works, the others wait as hot standbys: the leader holds a session-level
 * advisory lock on its own connection, which PostgreSQL releases the moment that process dies.
 * A lost connection (restart, failover, terminated session) ends this term, not the process:
 * the work stops, and the process queues for the lock again on a new connection, so a standby
 * may lead in the meantime.
 */
export class PostgresLeadership {
  constructor(
    private readonly connectionString: string,
    private readonly logger: Logger,
    private readonly options: LeadershipOptions = {},
  ) {}

  /**
   * Runs `work` for each term in which this process leads, until `signal` aborts. The signal
   * `work` gets aborts when the term ends; `work` must then stop and return. The lock is let go
   * only after `work` has returned. `nextEpoch` draws the term's leadership epochs.
   */
  async lead(work: (termEnded: AbortSignal, nextEpoch: (floor: number) => Promise<number>) => Promise<void>, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const term = this.openTerm();
      let connected = false;
      // A standby stops waiting for the lock at once; a leader finishes its work first. Not while
      // connecting: pg never settles a connect() that end() interrupted, so that case is checked
      // once connected.
      const stopWaiting = () => {
        if (connected && !term.leading) void term.client.end().catch(() => {});
      };
      signal.addEventListener('abort', stopWaiting);
      try {
        await term.client.connect();
        connected = true;
        if (signal.aborted) return;
        this.logger.info('projector waiting for leadership');
        await term.client.query('select pg_advisory_lock($1::bigint)', [projectorLockKey]);
        term.leading = true;
        // Told to stop while it waited: the lock came anyway (the abort could not interrupt the
        // wait), so it is let go at once rather than starting a term that is already over.
        if (signal.aborted) return;
        const { wakeUp } = this.options;
        if (wakeUp !== undefined) await term.client.query(`listen ${pg.escapeIdentifier(wakeUp.channel)}`);
        this.logger.info('projector is the leader');
        await work(AbortSignal.any([signal, term.ended.signal]), (floor) => drawEpoch(term.client, floor));
      } catch (error) {
        if (!signal.aborted) this.logger.error({ err: error }, 'projector leadership connection failed; queueing for the lock again');
      } finally {
        signal.removeEventListener('abort', stopWaiting);
        await endTerm(term);
      }
      if (!signal.aborted) await pause(this.options.retryMs ?? 1000, signal);
    }
  }

  private openTerm(): Term {
    const client = new pg.Client({ connectionString: this.connectionString, application_name: 'clickvote-projector', keepAlive: true });
    const term: Term = { client, ended: new AbortController(), leading: false };
    const end = (error: Error) => {
      if (term.ended.signal.aborted) return;
      if (term.leading) this.logger.error({ err: error }, 'projector lost its leadership connection');
      term.ended.abort(error);
    };
    // Heard for the client's whole life: an 'error' nobody hears would end the process.
    client.on('error', end);
    client.on('end', () => end(new Error('leadership connection closed')));
    if (this.options.wakeUp !== undefined) client.on('notification', this.options.wakeUp.onNotification);
    return term;
  }
}

interface Term {
  readonly client: pg.Client;
  /** Aborted when the connection is lost: the lock went with it. */
  readonly ended: AbortController;
  leading: boolean;
}

/**
 * The next leadership epoch, above every one handed out before and above `floor`: the fencing
 * token this leader's writes carry. Drawn on the session that holds the lock, so a leader whose
 * session has ended draws none, and every epoch drawn is above those of earlier terms.
 */
export async function drawEpoch(client: pg.Client, floor: number): Promise<number> {
  const { rows } = await client.query<{ epoch: string }>(
    `select setval('projector_leader_epochs', greatest(nextval('projector_leader_epochs'), $1::bigint + 1)) as epoch`,
    [floor],
  );
  return Number(rows[0]!.epoch);
}

/** Unlocking first lets a standby lead at once; ending the session would release the lock anyway. */
async function endTerm(term: Term): Promise<void> {
  if (term.leading && !term.ended.signal.aborted) await term.client.query('select pg_advisory_unlock_all()').catch(() => {});
  term.leading = false;
  term.ended.abort();
  await term.client.end().catch(() => {});
}

export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
