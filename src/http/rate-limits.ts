import type { Response } from 'express';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { AuthenticatedProject } from '../catalog/projects.js';
import { ClickvoteError } from '../domain/errors.js';
import { defaultRateLimits, effectiveRateLimits, type RateLimitName, type RateLimitSettings, rateLimitWindowSeconds } from '../domain/rate-limit-settings.js';
import type { RedisClient } from '../platform/redis.js';
import { RedisKeys } from '../projections/tallies/redis-keys.js';

export interface RateLimitsOptions {
  /** RATE_LIMITS=off turns every limit off, for load tests and benchmarks. */
  readonly enabled: boolean;
  /** The deployment's limits; a project may set its own. */
  readonly settings: RateLimitSettings;
  /** Shared by every API replica; without it (embedded) counters live in this process. */
  readonly redis?: RedisClient | undefined;
  readonly keyPrefix?: string;
}

/** The policy names clients see in RateLimit-Policy and RateLimit (IETF httpapi ratelimit-headers draft). */
const policyNames: Record<RateLimitName, string> = {
  votesPerAddress: 'votes-per-address',
  votesPerVoter: 'votes-per-voter',
  votersPerAddress: 'voters-per-address',
};

export type RateLimitCheck = readonly [name: RateLimitName, key: string | undefined];

/**
 * Fixed one-minute windows counted by rate-limiter-flexible: one Lua script call per counter in
 * Redis, so every replica sees the same counts. They apply to public-key requests only.
 */
export class RateLimits {
  readonly enabled: boolean;
  readonly settings: RateLimitSettings;
  private readonly limiters = new Map<string, RateLimiterAbstract>();

  constructor(private readonly options: RateLimitsOptions) {
    this.enabled = options.enabled;
    this.settings = options.settings;
  }

  static inProcess(enabled = true, settings: RateLimitSettings = defaultRateLimits): RateLimits {
    return new RateLimits({ enabled, settings });
  }

  /**
   * Counts this request against each limit in turn and sets the RateLimit headers; over a limit
   * it is a 429 with Retry-After. Keys are per project, so one project's traffic never spends another's.
   */
  async consume(res: Response, project: AuthenticatedProject, checks: readonly RateLimitCheck[]): Promise<void> {
    if (!this.enabled || project.access !== 'public') return;
    const limits = effectiveRateLimits(this.settings, project.rateLimits);
    const outcomes: { name: RateLimitName; state: RateLimiterRes; allowed: boolean }[] = [];
    // One after the other, stopping at the first refusal: a flood over the address limit is then
    // refused in memory and never makes a counter per invented voter in Redis.
    for (const [name, key] of checks) {
      if (key === undefined) continue;
      const outcome = await this.limiterFor(name, limits[name])
        .consume(`${project.id}:${key}`)
        .then((state) => ({ name, state, allowed: true }), (rejection: unknown) => {
          if (rejection instanceof RateLimiterRes) return { name, state: rejection, allowed: false };
          throw rejection;
        });
      outcomes.push(outcome);
      if (!outcome.allowed) break;
    }
    res.set('RateLimit-Policy', outcomes.map(({ name }) => `"${policyNames[name]}";q=${limits[name]};w=${rateLimitWindowSeconds}`).join(', '));
    res.set('RateLimit', outcomes.map(({ name, state }) => `"${policyNames[name]}";r=${state.remainingPoints};t=${secondsOf(state)}`).join(', '));
    const refused = outcomes.filter((outcome) => !outcome.allowed);
    if (refused.length === 0) return;
    res.set('Retry-After', String(Math.max(...refused.map(({ state }) => secondsOf(state)))));
    const names = refused.map(({ name }) => policyNames[name]).join(', ');
    throw new ClickvoteError('rate_limited', `Over the limit of ${names} per minute; try again after Retry-After seconds.`);
  }

  private limiterFor(name: RateLimitName, points: number): RateLimiterAbstract {
    const id = `${name}:${points}`;
    let limiter = this.limiters.get(id);
    if (limiter === undefined) {
      limiter = this.createLimiter(name, points);
      this.limiters.set(id, limiter);
    }
    return limiter;
  }

  private createLimiter(name: RateLimitName, points: number): RateLimiterAbstract {
    const keyPrefix = RedisKeys.rateLimitPrefix(this.options.keyPrefix ?? 'cv', name);
    const shape = { points, duration: rateLimitWindowSeconds, keyPrefix };
    if (this.options.redis === undefined) return new RateLimiterMemory(shape);
    return new RateLimiterRedis({
      ...shape,
      storeClient: this.options.redis,
      useRedisPackage: true,
      // A key already over its limit is refused here until its window ends, without asking Redis.
      inMemoryBlockOnConsumed: points + 1,
      // While Redis is away, count in this process instead of failing or queueing votes.
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory(shape),
    });
  }
}

function secondsOf(state: RateLimiterRes): number {
  return Math.max(1, Math.ceil(state.msBeforeNext / 1000));
}
