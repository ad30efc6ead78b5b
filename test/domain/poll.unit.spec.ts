import { describe, expect, it } from 'vitest';
import { definePollRules, describeAllowedValues, isAllowedValue, isValidPollName } from '../../src/domain/poll.js';

describe('poll rules', () => {
  it('gives like polls 0..1 and updown polls -1..1', () => {
    expect(definePollRules('like')).toEqual({ kind: 'like', min: 1, max: 1 });
    expect(definePollRules('updown')).toEqual({ kind: 'updown', min: -1, max: 1 });
  });

  it('defaults a rating poll to 1..5 and accepts another scale', () => {
    expect(definePollRules('rating')).toEqual({ kind: 'rating', min: 1, max: 5 });
    expect(definePollRules('rating', 1, 10)).toEqual({ kind: 'rating', min: 1, max: 10 });
  });

  it.each([
    ['like', 1, undefined, 'min'],
    ['updown', undefined, 3, 'max'],
    ['rating', 0, 5, 'min'],
    ['rating', 3, 3, 'max'],
    ['rating', 1, 101, 'max'],
  ] as const)('rejects %s with min %s and max %s, naming %s', (kind, min, max, field) => {
    expect(() => definePollRules(kind, min, max)).toThrow(
      expect.objectContaining({ code: 'validation_failed', fieldProblems: expect.arrayContaining([expect.objectContaining({ field })]) }),
    );
  });

  it('always allows 0, and only integers inside the scale otherwise', () => {
    const stars = definePollRules('rating', 2, 4);
    expect([0, 1, 2, 3, 4, 5, 2.5].map((value) => isAllowedValue(stars, value))).toEqual([true, false, true, true, true, false, false]);
    expect(describeAllowedValues(stars)).toBe('0 or an integer from 2 to 4');
  });

  it.each([
    ['likes', true],
    ['story-votes', true],
    ['v1.stars_x', true],
    ['', false],
    ['-leading', false],
    ['has space', false],
    ['x'.repeat(65), false],
  ])('treats %j as a valid name: %s', (name, valid) => {
    expect(isValidPollName(name)).toBe(valid);
  });
});
