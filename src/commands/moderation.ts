import { type Kysely, sql } from 'kysely';
import type { Database } from '../platform/database.js';
import { castVote } from './cast-vote.js';
import type { VoteAppender } from './vote-appender.js';

export interface RetractionFilter {
  readonly projectId: string;
  readonly poll?: string | undefined;
  readonly voter?: string | undefined;
  readonly clientAddressHash?: string | undefined;
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
}

export interface RetractionRequest {
  readonly reason: string;
  readonly keyFingerprint: string;
  readonly dryRun: boolean;
}

export interface RetractionOutcome {
  readonly ballots: number;
  readonly retracted: number;
  readonly dryRun: boolean;
}

interface BallotKey {
  readonly poll: string;
  readonly target: string;
  readonly voter: string;
}

const pageSize = 500;

/**
 * Retracts every active ballot that matches, by appending VoteRetracted events through the normal
 * append path: the log keeps what was cast and says who took it back and why, and tallies, ranks
 * and live streams follow as for any vote. A ballot matches by its current vote: the event that
 * set its value was cast by that voter, from that address hash, within [from, to).
 */
export async function retractBallots(db: Kysely<Database>, appender: VoteAppender, filter: RetractionFilter, request: RetractionRequest): Promise<RetractionOutcome> {
  if (request.dryRun) return { ballots: await countActiveBallots(db, filter), retracted: 0, dryRun: true };
  const metadata = { source: 'moderation', reason: request.reason, keyFingerprint: request.keyFingerprint };
  let ballots = 0;
  let retracted = 0;
  for (let after: BallotKey | undefined; ; ) {
    const page = await readActiveBallots(db, filter, after, pageSize);
    ballots += page.length;
    const receipts = await Promise.all(page.map((ballot) => castVote(appender, { projectId: filter.projectId, ...ballot, value: 0, metadata })));
    retracted += receipts.filter((receipt) => receipt.result.changed).length;
    if (page.length < pageSize) return { ballots, retracted, dryRun: false };
    after = page.at(-1);
  }
}

async function countActiveBallots(db: Kysely<Database>, filter: RetractionFilter): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    select count(*)::text as n
    from ballots b join vote_events e on e.transaction_id = b.last_transaction_id and e.global_position = b.last_global_position
    where ${matching(filter, undefined)}
  `.execute(db);
  return Number(rows[0]!.n);
}

async function readActiveBallots(db: Kysely<Database>, filter: RetractionFilter, after: BallotKey | undefined, limit: number): Promise<BallotKey[]> {
  const { rows } = await sql<BallotKey>`
    select b.poll, b.target, b.voter
    from ballots b join vote_events e on e.transaction_id = b.last_transaction_id and e.global_position = b.last_global_position
    where ${matching(filter, after)}
    order by b.poll, b.target, b.voter
    limit ${limit}
  `.execute(db);
  return rows;
}

function matching(filter: RetractionFilter, after: BallotKey | undefined) {
  return sql`b.project_id = ${filter.projectId} and b.value <> 0
    ${after === undefined ? sql`` : sql`and (b.poll, b.target, b.voter) > (${after.poll}, ${after.target}, ${after.voter})`}
    ${filter.poll === undefined ? sql`` : sql`and b.poll = ${filter.poll}`}
    ${filter.voter === undefined ? sql`` : sql`and b.voter = ${filter.voter}`}
    ${filter.clientAddressHash === undefined ? sql`` : sql`and e.metadata ->> 'clientAddressHash' = ${filter.clientAddressHash}`}
    ${filter.from === undefined ? sql`` : sql`and e.recorded_at >= ${filter.from}`}
    ${filter.to === undefined ? sql`` : sql`and e.recorded_at < ${filter.to}`}`;
}
