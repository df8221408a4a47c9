/**
 * The five kinds of failure the VSS contract knows. Every failure the core
 * reports is one of these; transports map them (see server/error-mapping.ts).
 */
export type VssErrorKind = "conflict" | "invalid_request" | "no_such_key" | "auth" | "internal";

/**
 * Why a call was refused, where the kind alone does not say enough for the
 * transports: they answer these with their own status codes.
 * - `unavailable`: a dependency (the database) cannot be reached; retry later.
 * - `rate_limited`, `overloaded`: the caller sent too much; retry after `retryAfterSecs`.
 * - `quota_exceeded`: the caller's storage quota would be exceeded.
 */
export type VssErrorReason = "unavailable" | "rate_limited" | "overloaded" | "quota_exceeded";

/** Options of a {@link VssError}. */
export interface VssErrorOptions {
  /** The underlying error, for logs only: it never reaches a client. */
  cause?: unknown;
  reason?: VssErrorReason;
  /** With `rate_limited` and `overloaded`: when a retry may succeed. */
  retryAfterSecs?: number;
}

/**
 * The one error type of the core. Its message is safe to show to the caller:
 * internal detail stays in `cause`.
 */
export class VssError extends Error {
  override readonly name = "VssError";
  readonly kind: VssErrorKind;
  readonly reason: VssErrorReason | undefined;
  readonly retryAfterSecs: number | undefined;

  constructor(kind: VssErrorKind, message: string, options: VssErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.reason = options.reason;
    this.retryAfterSecs = options.retryAfterSecs;
  }
}

/** A request that breaks a rule of the contract; nothing was changed. */
export function invalidRequest(message: string): VssError {
  return new VssError("invalid_request", message);
}

/** A version check failed; nothing was changed. */
export function conflict(message: string): VssError {
  return new VssError("conflict", message);
}

/** Authentication failed; nothing was read or changed. */
export function authError(message: string): VssError {
  return new VssError("auth", message);
}

/** Whether `error` is a {@link VssError}. */
export function isVssError(error: unknown): error is VssError {
  return error instanceof VssError;
}
