import { describe, expect, it } from 'vitest';
import { voterToReadAs, voterToVoteAs } from '../../src/domain/voter-policy.js';

const code = (work: () => unknown) => {
  try {
    work();
    return 'accepted';
  } catch (error) {
    return (error as { code: string }).code;
  }
};

describe('voter policy', () => {
  describe('open', () => {
    it('votes as the named voter and ignores any token', () => {
      expect(voterToVoteAs({ policy: 'open', access: 'public', named: 'ann', tokenSubject: 'bob' })).toBe('ann');
      expect(code(() => voterToVoteAs({ policy: 'open', access: 'public', named: undefined, tokenSubject: undefined }))).toBe('validation_failed');
    });
  });

  describe.each(['signed', 'anonymous'] as const)('%s, with a public key', (policy) => {
    it('votes as the token subject, with or without the same voter named', () => {
      expect(voterToVoteAs({ policy, access: 'public', named: undefined, tokenSubject: 'ann' })).toBe('ann');
      expect(voterToVoteAs({ policy, access: 'public', named: 'ann', tokenSubject: 'ann' })).toBe('ann');
    });

    it('refuses a vote without a token, and a token used for another voter', () => {
      expect(code(() => voterToVoteAs({ policy, access: 'public', named: 'ann', tokenSubject: undefined }))).toBe('voter_token_invalid');
      expect(code(() => voterToVoteAs({ policy, access: 'public', named: 'bob', tokenSubject: 'ann' }))).toBe('forbidden');
    });

    it('reads a voter\'s own value only with that voter\'s token; reads without a voter need none', () => {
      expect(voterToReadAs({ policy, access: 'public', named: undefined, tokenSubject: undefined })).toBeUndefined();
      expect(voterToReadAs({ policy, access: 'public', named: 'ann', tokenSubject: 'ann' })).toBe('ann');
      expect(code(() => voterToReadAs({ policy, access: 'public', named: 'bob', tokenSubject: 'ann' }))).toBe('forbidden');
      expect(code(() => voterToReadAs({ policy, access: 'public', named: 'bob', tokenSubject: undefined }))).toBe('voter_token_invalid');
    });
  });

  it('lets a secret key name any voter under every policy', () => {
    for (const policy of ['open', 'signed', 'anonymous'] as const) {
      expect(voterToVoteAs({ policy, access: 'secret', named: 'ann', tokenSubject: undefined })).toBe('ann');
      expect(voterToReadAs({ policy, access: 'secret', named: 'ann', tokenSubject: undefined })).toBe('ann');
    }
  });
});
