/**
 * The five kinds of failure the VSS contract knows. Every failure the core
 * reports is one of these; transports map them (see server/error-mapping.ts).
 */
export type VssErrorKind = "conflict" | "invalid_request" | "no_such_key" | "auth" | "internal";

/** Options of a {@link VssError}. */
export interface VssErrorOptions {
  /** The underlying error, for logs only: it never reaches a client. */
  cause?: unknown;
  /**
   * Only for `internal`: the database (or another dependency) is unreachable,
   * so the call may be retried later. Transports report UNAVAILABLE.
   */
  unavailable?: boolean;
}

/**
 * The one error type of the core. Its message is safe to show to the caller:
 * internal detail stays in `cause`.
 */
export class VssError extends Error {
  override readonly name = "VssError";
  readonly kind: VssErrorKind;
  readonly unavailable: boolean;

  constructor(kind: VssErrorKind, message: string, options: VssErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.unavailable = options.unavailable ?? false;
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
