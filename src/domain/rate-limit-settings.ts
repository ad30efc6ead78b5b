/** Each limit counts requests per minute: votes per client address, votes per voter, anonymous voters minted per address. */
export const rateLimitNames = ['votesPerAddress', 'votesPerVoter', 'votersPerAddress'] as const;
export type RateLimitName = (typeof rateLimitNames)[number];
export type RateLimitSettings = Readonly<Record<RateLimitName, number>>;
/** A project's own limits; the deployment's apply to the rest. */
export type RateLimitOverrides = Readonly<Partial<Record<RateLimitName, number>>>;

export const rateLimitWindowSeconds = 60;
/** A person clicks far less than this; a loop hits it within the first second. */
export const defaultRateLimits: RateLimitSettings = { votesPerAddress: 60, votesPerVoter: 30, votersPerAddress: 10 };
export const maxRateLimit = 1_000_000;

export function effectiveRateLimits(deployment: RateLimitSettings, project: RateLimitOverrides): RateLimitSettings {
  return { ...deployment, ...project };
}
