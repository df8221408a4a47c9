import { VssError } from "../core/errors.js";

// SQLSTATEs and driver codes that mean the database cannot be reached now.
const UNAVAILABLE_STATES = new Set(["57P01", "57P02", "57P03", "53300"]);
const UNAVAILABLE_DRIVER_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

/** SQLSTATEs after which the whole transaction may simply be run again. */
const RETRYABLE_STATES = new Set(["40001", "40P01"]);

/** The SQLSTATE or driver code of `error`, looking through wrapping errors. */
export function databaseErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = current.cause;
  }
  return undefined;
}

/** Whether the failed transaction can be retried as a whole (deadlock, serialization). */
export function isRetryableTransactionError(error: unknown): boolean {
  const code = databaseErrorCode(error);
  return code !== undefined && RETRYABLE_STATES.has(code);
}

/**
 * Maps a database failure to the core's error. The message never carries the
 * database's own text: that goes to the logs through `cause`.
 */
export function toVssError(error: unknown): VssError {
  if (error instanceof VssError) return error;
  const code = databaseErrorCode(error);
  if (code !== undefined) {
    if (
      UNAVAILABLE_DRIVER_CODES.has(code) ||
      UNAVAILABLE_STATES.has(code) ||
      code.startsWith("08")
    ) {
      return new VssError("internal", "database unavailable", {
        cause: error,
        reason: "unavailable",
      });
    }
    if (code === "23514") {
      // A check constraint of an existing (reference-created) table, such as
      // its refusal of the empty store_id.
      return new VssError("invalid_request", "the database's schema refuses this value", {
        cause: error,
      });
    }
    if (RETRYABLE_STATES.has(code)) {
      return new VssError("conflict", "concurrent writes collided; retry", { cause: error });
    }
  }
  return new VssError("internal", "internal server error", { cause: error });
}
