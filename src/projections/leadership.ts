import pg from 'pg';
import type { Logger } from 'pino';
import { advisoryLockKey } from '../commands/advisory-locks.js';

const projectorLockKey = advisoryLockKey('projector', 'tallies');

/**
 * One projector works, the others wait as hot standbys: the leader holds a session-level
 * advisory lock on its own connection, which PostgreSQL releases the moment that process dies.
 * The same connection LISTENs for new votes.
 */
export class PostgresLeadership {
  private readonly client: pg.Client;
  private lost = false;
  private leading = false;

  constructor(
    connectionString: string,
    private readonly logger: Logger,
  ) {
    this.client = new pg.Client({ connectionString, application_name: 'clickvote-projector', keepAlive: true });
  }

  /** Resolves once this process leads; a standby waits here. */
  async acquire(onLost: (error: Error) => void): Promise<void> {
    this.client.on('error', (error) => this.loseLeadership(error, onLost));
    this.client.on('end', () => this.loseLeadership(new Error('leadership connection closed'), onLost));
    await this.client.connect();
    this.logger.info('projector waiting for leadership');
    await this.client.query('select pg_advisory_lock($1::bigint)', [projectorLockKey]);
    this.leading = true;
    this.logger.info('projector is the leader');
  }

  async listen(channel: string, onNotification: () => void): Promise<void> {
    this.client.on('notification', onNotification);
    await this.client.query(`listen ${pg.escapeIdentifier(channel)}`);
  }

  /** Lets a standby lead; a process still waiting for the lock just stops waiting. */
  async release(): Promise<void> {
    this.lost = true;
    if (this.leading) {
      try {
        await this.client.query('select pg_advisory_unlock_all()');
      } catch {
        // Ending the session releases the lock as well.
      }
    }
    await this.client.end().catch(() => {});
  }

  private loseLeadership(error: Error, onLost: (error: Error) => void): void {
    if (this.lost) return;
    this.lost = true;
    this.logger.error({ err: error }, 'projector lost its leadership connection');
    onLost(error);
  }
}
