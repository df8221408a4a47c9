import { cors } from "@connectrpc/connect";
import type { NodeHandler } from "./node-types.js";

const ALLOW_METHODS = [...new Set([...cors.allowedMethods, "OPTIONS"])].join(", ");
const ALLOW_HEADERS = [...cors.allowedHeaders, "Authorization"].join(", ");
const EXPOSE_HEADERS = [...cors.exposedHeaders, "Vss-Protocol-Version"].join(", ");

/**
 * CORS for browser wallets: answers preflights and lets scripts from the
 * allowed origins read gRPC-Web and Connect responses. With no origins
 * configured, no CORS header is ever sent and browsers refuse cross-origin use.
 */
export function withCors(origins: "*" | readonly string[], next: NodeHandler): NodeHandler {
  if (origins !== "*" && origins.length === 0) return next;
  const allowed = origins === "*" ? undefined : new Set(origins);
  return (req, res) => {
    const origin = req.headers.origin;
    if (typeof origin === "string" && (allowed === undefined || allowed.has(origin))) {
      res.setHeader("access-control-allow-origin", allowed === undefined ? "*" : origin);
      res.setHeader("vary", "Origin");
      if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
        res.setHeader("access-control-allow-methods", ALLOW_METHODS);
        res.setHeader("access-control-allow-headers", ALLOW_HEADERS);
        res.setHeader("access-control-max-age", "7200");
        res.statusCode = 204;
        res.end();
        return;
      }
      res.setHeader("access-control-expose-headers", EXPOSE_HEADERS);
    }
    next(req, res);
  };
}
