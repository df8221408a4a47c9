import type { Logger } from "pino";
import { createAuth } from "./auth/create-auth.js";
import type { Config } from "./config.js";
import { createAdmission } from "./core/admission.js";
import type { Authorizer } from "./core/authorizer.js";
import { createVssService } from "./core/service.js";
import { createBinaryHandler } from "./server/binary-routes.js";
import { createConnectRoutes } from "./server/connect-routes.js";
import { withCors } from "./server/cors.js";
import { errorBody } from "./server/error-mapping.js";
import { createDualServer } from "./server/http-server.js";
import { createLnurlHandler } from "./server/lnurl-routes.js";
import type { NodeHandler } from "./server/node-types.js";
import {
  createObservability,
  createServerLogger,
  registerPoolMetrics,
} from "./server/observability.js";
import { createProbeHandler } from "./server/probe-routes.js";
import { createRpcHandler } from "./server/rpc-handler.js";
import { type OpenedDatabase, openDatabase } from "./storage/open-store.js";

/** A running VSS server. */
export interface App {
  /** The bound port (useful when the configured port was 0). */
  readonly port: number;
  /** The server's base URL, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** Stops accepting, finishes in-flight calls (bounded), closes the database. */
  close(): Promise<void>;
}

/** Optional parts of {@link createApp}; defaults are built from the config. */
export interface AppDependencies {
  readonly logger?: Logger;
  /** An already opened database; the app closes it on close. */
  readonly database?: OpenedDatabase;
  /** Replaces the authorizer the config selects. */
  readonly authorizer?: Authorizer;
}

/**
 * Builds and starts the whole server from `config`: opens (and migrates) the
 * database, then serves the binary HTTP form, gRPC, gRPC-Web and Connect on
 * one port, over HTTP/1.1 and h2c, plus the LNURL-auth login in `lnurl` mode.
 */
export async function createApp(config: Config, deps: AppDependencies = {}): Promise<App> {
  const serverLogger = createServerLogger(config.logLevel, deps.logger);
  const { logger } = serverLogger;
  const database =
    deps.database ??
    (await openDatabase(
      config.database,
      config.quota === undefined ? {} : { quota: config.quota },
    ));
  const { store } = database;
  try {
    const auth = await createAuth(config.auth, { challenges: database.challenges, logger });
    const authorizer = deps.authorizer ?? auth.authorizer;
    const service = createVssService({ store, limits: config.limits });
    const admission = createAdmission(config.admission);
    const observability = createObservability(logger);
    registerPoolMetrics(observability.registry, {
      size: store.stats().poolSize,
      inFlight: () => store.stats().inFlight,
    });
    let closing = false;
    const probes = createProbeHandler({
      store,
      basePath: config.basePath,
      registry: observability.registry,
      closing: () => closing,
      logger,
    });
    const binary = createBinaryHandler({
      service,
      authorizer,
      admission,
      observability,
      basePath: config.basePath,
      maxRequestBodySize: config.maxRequestBodySize,
      logger,
      trustedProxyHops: config.trustedProxyHops,
    });
    const lnurl =
      auth.lnurl === undefined
        ? undefined
        : createLnurlHandler({
            lnurl: auth.lnurl,
            basePath: config.basePath,
            logger,
            ...(config.auth.mode === "lnurl" && config.auth.lnurl.publicUrl !== undefined
              ? { publicUrl: config.auth.lnurl.publicUrl }
              : {}),
          });
    const rpc = createRpcHandler({
      routes: createConnectRoutes({ service, authorizer, admission, observability }),
      readMaxBytes: config.maxRequestBodySize,
      logger,
      trustedProxyHops: config.trustedProxyHops,
      fallback: (req, res) => {
        const serve = async () => {
          if (await probes(req, res)) return;
          if (lnurl !== undefined && (await lnurl(req, res))) return;
          await binary(req, res);
        };
        serve().catch((error: unknown) => {
          logger.error({ err: error }, "unhandled error");
          if (!res.headersSent) {
            res.statusCode = 500;
            res.end(errorBody("internal", "internal server error"));
          }
        });
      },
    });
    const handler: NodeHandler = withCors(config.corsOrigins, (req, res) => {
      // Required by the Rust client (vss-client-ng 0.6+) on every response.
      res.setHeader("vss-protocol-version", "0");
      // Calls log themselves; this per-request line is for debugging only, so
      // the hot path pays for the listener only when it will be written.
      if (logger.isLevelEnabled("debug")) {
        const started = performance.now();
        res.once("finish", () => {
          logger.debug(
            {
              method: req.method,
              path: (req.url ?? "").split("?", 1)[0],
              status: res.statusCode,
              ms: Math.round((performance.now() - started) * 10) / 10,
            },
            "request",
          );
        });
      }
      rpc(req, res);
    });
    const server = createDualServer(handler, config.tls);
    const port = await server.listen(config.host, config.port);
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    const url = `${config.tls === undefined ? "http" : "https"}://${host}:${port}`;
    logger.info(
      {
        url,
        basePath: config.basePath,
        database: config.database.kind,
        auth: config.auth.mode,
        tls: config.tls !== undefined,
      },
      "VSS server listening",
    );
    serverLogger.flush();
    return {
      port,
      url,
      close: async () => {
        closing = true;
        await server.close(config.shutdownGraceSecs * 1000);
        await store.close();
        serverLogger.close();
      },
    };
  } catch (error) {
    await store.close();
    serverLogger.close();
    throw error;
  }
}
