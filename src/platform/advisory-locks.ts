import { createHash } from 'node:crypto';

type LockSubject = 'ballot' | 'poll' | 'poll-targets' | 'idempotency-key' | 'projector';

/**
 * A 64-bit advisory lock key for a ballot, poll or idempotency key. Advisory locks cover ballots
 * that have no row yet, so two appenders can serialise on a first vote without placeholder rows.
 * A hash collision only makes two unrelated subjects wait for each other.
 */
export function advisoryLockKey(subject: LockSubject, ...parts: string[]): string {
  const digest = createHash('sha256').update([subject, ...parts].join('\u0000')).digest();
  return digest.readBigInt64BE(0).toString();
}

/**
 * The first half of a two-part advisory lock key (class, number) for a numbered set of locks, such
 * as a projector's partitions. pg_locks lists such a lock as classid and objid, so the holders of a
 * set can be counted. Below 2^31, so it reads the same as an int4 and as an oid.
 */
export function advisoryLockClass(subject: LockSubject, ...parts: string[]): number {
  return createHash('sha256').update([subject, ...parts].join('\u0000')).digest().readUInt32BE(0) & 0x7fffffff;
}

/** Every appender locks in this one order, so two batches can never wait on each other in a cycle. */
export function inLockOrder(keys: Iterable<string>): string[] {
  return [...new Set(keys)].sort((a, b) => {
    const difference = BigInt(a) - BigInt(b);
    return difference === 0n ? 0 : difference < 0n ? -1 : 1;
  });
}
