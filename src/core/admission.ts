import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { VssError } from "./errors.js";

/** Per-identity limits on traffic. 0 turns a limit off. */
export interface AdmissionLimits {
  /** Sustained calls per second per identity. */
  readonly ratePerSec: number;
  /** Extra calls per identity allowed in bursts, refilled over ten seconds. */
  readonly burst: number;
  /** Calls of one identity being served at the same time. */
  readonly maxConcurrent: number;
}

/** Lets a call in, or refuses it; `release` must be called once the call ends. */
export interface Admission {
  admit(identity: string): Promise<() => void>;
}

const BURST_WINDOW_SECS = 10;

/**
 * Protects the service from any one identity: a sustained rate with a burst
 * allowance (rate-limiter-flexible), and a cap on concurrent calls. Refusals
 * are `internal` errors with reason `rate_limited` or `overloaded` and a
 * Retry-After, which transports answer with 429 / RESOURCE_EXHAUSTED.
 * Counts are per server process.
 */
export function createAdmission(limits: AdmissionLimits): Admission {
  const limiter =
    limits.ratePerSec > 0
      ? new BurstyRateLimiter(
          new RateLimiterMemory({ points: limits.ratePerSec, duration: 1 }),
          new RateLimiterMemory({ points: Math.max(1, limits.burst), duration: BURST_WINDOW_SECS }),
        )
      : undefined;
  const active = new Map<string, number>();

  return {
    async admit(identity) {
      if (limiter !== undefined) {
        try {
          await limiter.consume(identity);
        } catch (error) {
          if (!(error instanceof RateLimiterRes)) throw error;
          throw new VssError("internal", "rate limit exceeded; retry later", {
            reason: "rate_limited",
            retryAfterSecs: error.msBeforeNext / 1000,
          });
        }
      }
      if (limits.maxConcurrent <= 0) return () => {};
      const current = active.get(identity) ?? 0;
      if (current >= limits.maxConcurrent) {
        throw new VssError("internal", "too many concurrent calls; retry later", {
          reason: "overloaded",
          retryAfterSecs: 1,
        });
      }
      active.set(identity, current + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (active.get(identity) ?? 1) - 1;
        if (left === 0) active.delete(identity);
        else active.set(identity, left);
      };
    },
  };
}
