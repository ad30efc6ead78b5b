/**
 * A place in the log in commit-safe order: (transaction id, global position). Positions alone are
 * not safe, because a transaction that took position 10 can commit after one that took 11.
 * Clients get it as an opaque token and hand it back as `minPosition`.
 */
export interface LogPosition {
  readonly transactionId: bigint;
  readonly globalPosition: bigint;
}

/** Before the first event: every event of the log comes after it. */
export const logStart: LogPosition = { transactionId: 0n, globalPosition: 0n };

const tokenPattern = /^(\d{1,20})\.(\d{1,20})$/;
// What the columns hold: transaction_id is an unsigned xid8, global_position a signed bigint.
const largestTransactionId = 2n ** 64n - 1n;
const largestGlobalPosition = 2n ** 63n - 1n;

export function formatPosition(position: LogPosition): string {
  return `${position.transactionId}.${position.globalPosition}`;
}

export function parsePosition(token: string): LogPosition | undefined {
  const match = tokenPattern.exec(token);
  if (match === null) return undefined;
  const position = { transactionId: BigInt(match[1]!), globalPosition: BigInt(match[2]!) };
  return position.transactionId > largestTransactionId || position.globalPosition > largestGlobalPosition ? undefined : position;
}

export function comparePositions(a: LogPosition, b: LogPosition): number {
  if (a.transactionId !== b.transactionId) return a.transactionId < b.transactionId ? -1 : 1;
  if (a.globalPosition !== b.globalPosition) return a.globalPosition < b.globalPosition ? -1 : 1;
  return 0;
}
