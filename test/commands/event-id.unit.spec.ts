import { describe, expect, it } from 'vitest';
import { timeOrderedEventId } from '../../src/commands/event-id.js';

describe('time-ordered event ids', () => {
  it('are version 7 UUIDs carrying the millisecond they were made', () => {
    const now = new Date('2026-11-26T10:00:00.123Z');
    const id = timeOrderedEventId(now);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replaceAll('-', '').slice(0, 12), 16)).toBe(now.getTime());
  });

  it('sort by time and never repeat', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => timeOrderedEventId(new Date(1_800_000_000_000 + Math.floor(i / 10))));
    expect(new Set(ids).size).toBe(ids.length);
    const prefixes = ids.map((id) => id.slice(0, 13));
    expect([...prefixes].sort()).toEqual(prefixes);
  });
});
