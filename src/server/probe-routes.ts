import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { VssStore } from "../core/store.js";
import { errorBody } from "./error-mapping.js";
import type { NodeRequest, NodeResponse } from "./node-types.js";

/** Dependencies of {@link createProbeHandler}. */
export interface ProbeHandlerOptions {
  readonly store: VssStore;
  readonly basePath: string;
  readonly registry: Registry;
  /** True once shutdown has begun. */
  readonly closing: () => boolean;
  readonly logger: Logger;
}

const PING_TIMEOUT_MS = 3000;

/**
 * Operational endpoints:
 * - `GET {base}/health`: 200 when the database answers, else 503 (the contract's health);
 * - `GET {base}/live`: 200 while the process serves at all (liveness);
 * - `GET {base}/ready`: 200 when the database answers and shutdown has not
 *   begun, else 503 (readiness: take the instance out of a load balancer);
 * - `GET /metrics`: Prometheus metrics.
 * Returns false for any other path.
 */
export function createProbeHandler(options: ProbeHandlerOptions) {
  const { store, basePath, registry, closing, logger } = options;
  const databaseAnswers = async () => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        store.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("timed out")), PING_TIMEOUT_MS);
        }),
      ]);
      return true;
    } catch (error) {
      logger.warn({ err: error }, "database health check failed");
      return false;
    } finally {
      clearTimeout(timer);
    }
  };

  return async (req: NodeRequest, res: NodeResponse): Promise<boolean> => {
    const path = (req.url ?? "/").split("?", 1)[0];
    const probe =
      path === "/metrics"
        ? "metrics"
        : path?.startsWith(`${basePath}/`)
          ? path.slice(basePath.length + 1)
          : "";
    if (!["health", "live", "ready", "metrics"].includes(probe)) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      send(res, 405, "application/octet-stream", errorBody("invalid_request", "use GET"));
      return true;
    }
    switch (probe) {
      case "metrics":
        send(res, 200, registry.contentType, await registry.metrics());
        break;
      case "live":
        send(res, 200, "text/plain", "live");
        break;
      case "ready":
        if (closing()) send(res, 503, "text/plain", "shutting down");
        else if (await databaseAnswers()) send(res, 200, "text/plain", "ready");
        else send(res, 503, "text/plain", "database unavailable");
        break;
      default:
        if (await databaseAnswers()) send(res, 200, "application/octet-stream", new Uint8Array(0));
        else
          send(res, 503, "application/octet-stream", errorBody("internal", "database unavailable"));
    }
    return true;
  };
}

function send(res: NodeResponse, status: number, type: string, body: string | Uint8Array): void {
  res.statusCode = status;
  res.setHeader("content-type", type);
  res.setHeader("content-length", typeof body === "string" ? Buffer.byteLength(body) : body.length);
  res.end(body);
}
