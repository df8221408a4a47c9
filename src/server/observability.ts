import { createHash, randomUUID } from "node:crypto";
import { type Logger, pino } from "pino";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { asVssError } from "./error-mapping.js";

/** One finished call, as the transports report it. */
export interface CallRecord {
  readonly requestId: string;
  /** GetObject, PutObjects, DeleteObject or ListKeyVersions. */
  readonly method: string;
  /** binary, grpc, grpc_web or connect. */
  readonly protocol: string;
  /** The authenticated identity, if the call got that far. */
  readonly identity: string | undefined;
  readonly startedAt: number;
  /** The error the call ended with, if any. */
  readonly error?: unknown;
}

/** Logs and metrics of the VSS calls. */
export interface Observability {
  readonly registry: Registry;
  /** A request id: the caller's `x-request-id` if sane, else a new one. */
  requestId(given: string | null | undefined): string;
  record(call: CallRecord): void;
}

/**
 * Structured logs (one line per call: request id, method, protocol, identity
 * hash, duration, outcome; never values, never credentials) and Prometheus
 * metrics: calls by method, protocol and outcome, latency histograms,
 * conflicts, auth failures and refused (rate-limited) calls fall out of the
 * outcome label.
 */
export function createObservability(logger: Logger): Observability {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const calls = new Counter({
    name: "vss_requests_total",
    help: "VSS calls by method, protocol and outcome (ok, or the error kind or reason).",
    labelNames: ["method", "protocol", "outcome"] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "vss_request_duration_seconds",
    help: "Latency of VSS calls.",
    labelNames: ["method", "protocol"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return {
    registry,
    requestId: (given) =>
      given !== null && given !== undefined && /^[A-Za-z0-9._:-]{1,128}$/.test(given)
        ? given
        : randomUUID(),
    record(call) {
      const seconds = (performance.now() - call.startedAt) / 1000;
      const outcome =
        call.error === undefined
          ? "ok"
          : (() => {
              const e = asVssError(call.error);
              return e.reason ?? e.kind;
            })();
      calls.inc({ method: call.method, protocol: call.protocol, outcome });
      latency.observe({ method: call.method, protocol: call.protocol }, seconds);
      logger.info(
        {
          requestId: call.requestId,
          method: call.method,
          protocol: call.protocol,
          identity: call.identity === undefined ? undefined : identityHash(call.identity),
          ms: Math.round(seconds * 10_000) / 10,
          outcome,
        },
        "call",
      );
    },
  };
}

/** A stable, non-reversible tag for an identity in logs. */
export function identityHash(identity: string): string {
  return createHash("sha256").update(identity).digest("hex").slice(0, 16);
}

/** Gauges of the database pool, read when metrics are scraped. */
export function registerPoolMetrics(
  registry: Registry,
  pool: { readonly size: number; inFlight(): number },
): void {
  new Gauge({
    name: "vss_db_pool_size",
    help: "Connections the database pool may open.",
    registers: [registry],
    collect() {
      this.set(pool.size);
    },
  });
  new Gauge({
    name: "vss_db_operations_in_flight",
    help: "Database operations (queries and transactions) running now.",
    registers: [registry],
    collect() {
      this.set(pool.inFlight());
    },
  });
}

/** The server's own logger and the buffer behind it. */
export interface ServerLogger {
  readonly logger: Logger;
  /** Writes out what is buffered now (after the startup line, so supervisors see it at once). */
  flush(): void;
  /** Writes out everything, synchronously. */
  close(): void;
}

/**
 * A JSON logger on stdout that batches its writes: one write(2) per call
 * would cost about a quarter of a GetObject's CPU. Lines are written once 2 KiB
 * are buffered or every `flushMs`, and synchronously on close and on exit, so a
 * process killed with SIGKILL loses at most its last `flushMs` of log lines.
 * Each write is whole lines of at most 4096 bytes (PIPE_BUF), so the workers of
 * VSS_WORKERS, sharing one stdout pipe, never interleave inside a line.
 * `given` (tests inject one) is used as it is.
 */
export function createServerLogger(level: string, given?: Logger, flushMs = 1_000): ServerLogger {
  // An injected logger (tests) is used as it is, unbuffered.
  if (given !== undefined) return { logger: given, flush: () => {}, close: () => {} };
  const destination = pino.destination({
    dest: 1,
    sync: false,
    minLength: 2_048,
    maxWrite: 4_096,
    periodicFlush: flushMs,
  });
  return {
    logger: pino({ level }, destination),
    flush: () => destination.flush(),
    close: () => destination.flushSync(),
  };
}
