import pino, { type Logger } from "pino";
import { createAuthorizer } from "./auth/create-authorizer.js";
import type { Config } from "./config.js";
import type { Authorizer } from "./core/authorizer.js";
import { createVssService } from "./core/service.js";
import type { VssStore } from "./core/store.js";
import { createBinaryHandler } from "./server/binary-routes.js";
import { createConnectRoutes } from "./server/connect-routes.js";
import { withCors } from "./server/cors.js";
import { errorBody } from "./server/error-mapping.js";
import { createDualServer } from "./server/http-server.js";
import type { NodeHandler } from "./server/node-types.js";
import { createRpcHandler } from "./server/rpc-handler.js";
import { openStore } from "./storage/open-store.js";

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
  readonly store?: VssStore;
  readonly authorizer?: Authorizer;
}

/**
 * Builds and starts the whole server from `config`: opens (and migrates) the
 * store, then serves the binary HTTP form, gRPC, gRPC-Web and Connect on one
 * port, over HTTP/1.1 and h2c.
 */
export async function createApp(config: Config, deps: AppDependencies = {}): Promise<App> {
  const logger = deps.logger ?? pino({ level: config.logLevel });
  const store = deps.store ?? (await openStore(config.database));
  try {
    const authorizer = deps.authorizer ?? createAuthorizer(config.auth, logger);
    const service = createVssService({ store, limits: config.limits });
    const binary = createBinaryHandler({
      service,
      authorizer,
      store,
      basePath: config.basePath,
      maxRequestBodySize: config.maxRequestBodySize,
      logger,
    });
    const rpc = createRpcHandler({
      routes: createConnectRoutes({ service, authorizer }),
      readMaxBytes: config.maxRequestBodySize,
      logger,
      fallback: (req, res) => {
        binary(req, res).catch((error: unknown) => {
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
      rpc(req, res);
    });
    const server = createDualServer(handler);
    const port = await server.listen(config.host, config.port);
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    const url = `http://${host}:${port}`;
    logger.info(
      { url, basePath: config.basePath, database: config.database.kind, auth: config.auth.mode },
      "VSS server listening",
    );
    return {
      port,
      url,
      close: async () => {
        await server.close();
        await store.close();
      },
    };
  } catch (error) {
    if (deps.store === undefined) await store.close();
    throw error;
  }
}
