import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { Authorizer, RequestHeaders } from "./authorizer.js";
import { VssError } from "./errors.js";

/** Limits on traffic, per identity and per client address. 0 turns a limit off. */
export interface AdmissionLimits {
  /**
   * Failed authentications per minute from one client address; past it, that
   * address's calls are refused without running the authorizer.
   */
  readonly authFailuresPerMin: number;
  /** Sustained calls per second per identity. */
  readonly ratePerSec: number;
  /** Extra calls per identity allowed in bursts, refilled over ten seconds. */
  readonly burst: number;
  /** Calls of one identity being served at the same time. */
  readonly maxConcurrent: number;
}

/** Who gets in: authentication guarded per address, then limits per identity. */
export interface Admission {
  /**
   * The caller's identity from `authorizer`, counting failures against `peer`
   * (the client's address, as the transport established it). An address past
   * its failure limit is refused as `rate_limited` with a Retry-After, and its
   * headers are not checked: a flood of bad credentials costs no verification.
   */
  authenticate(
    authorizer: Authorizer,
    headers: RequestHeaders,
    peer: string | undefined,
  ): Promise<string>;
  /** Lets a call in, or refuses it; the returned release must be called once the call ends. */
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
  const failuresPerMin = limits.authFailuresPerMin;
  const failures =
    failuresPerMin > 0
      ? new RateLimiterMemory({ points: failuresPerMin, duration: 60 })
      : undefined;

  return {
    async authenticate(authorizer, headers, peer) {
      if (failures === undefined || peer === undefined) return authorizer.authorize(headers);
      const record = await failures.get(peer);
      if (record !== null && record.consumedPoints >= failuresPerMin) {
        throw new VssError(
          "internal",
          "too many failed authentications from this address; retry later",
          { reason: "rate_limited", retryAfterSecs: record.msBeforeNext / 1000 },
        );
      }
      try {
        return await authorizer.authorize(headers);
      } catch (error) {
        if (error instanceof VssError && error.kind === "auth") await failures.penalty(peer, 1);
        throw error;
      }
    },
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
