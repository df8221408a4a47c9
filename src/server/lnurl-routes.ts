import type { Logger } from "pino";
import type { LnurlAuth } from "../auth/lnurl-auth.js";
import { isVssError } from "../core/errors.js";
import type { NodeRequest, NodeResponse } from "./node-types.js";

/** Dependencies of {@link createLnurlHandler}. */
export interface LnurlHandlerOptions {
  readonly lnurl: LnurlAuth;
  readonly basePath: string;
  /** The public origin (and path prefix) for the LNURLs; else from the request. */
  readonly publicUrl?: string;
  readonly logger: Logger;
}

/**
 * The LNURL-auth login endpoints, as the Rust client's LNURL-auth JWT
 * provider uses them:
 * - `GET {base}/lnurl-auth` answers, as plain text, the LNURL to sign: the
 *   callback URL with `tag=login`, a fresh `k1` and `action=login`;
 * - `GET {base}/lnurl-auth/callback?...&sig=..&key=..` answers
 *   `{"status":"OK","token":...}`, or `{"status":"ERROR","reason":...}`.
 * Returns false for any other path.
 */
export function createLnurlHandler(options: LnurlHandlerOptions) {
  const { lnurl, basePath, logger } = options;
  const start = `${basePath}/lnurl-auth`;
  const callback = `${start}/callback`;

  return async (req: NodeRequest, res: NodeResponse): Promise<boolean> => {
    const url = new URL(req.url ?? "/", "http://placeholder");
    if (url.pathname !== start && url.pathname !== callback) return false;
    if (req.method !== "GET") {
      res.setHeader("allow", "GET");
      json(res, 405, { status: "ERROR", reason: "use GET" });
      return true;
    }
    try {
      if (url.pathname === start) {
        const k1 = await lnurl.newChallenge();
        const target = new URL(`${originOf(req, options.publicUrl)}${callback}`);
        target.search = new URLSearchParams({ tag: "login", k1, action: "login" }).toString();
        res.statusCode = 200;
        res.setHeader("content-type", "text/plain; charset=utf-8");
        res.setHeader("cache-control", "no-store");
        res.end(target.toString());
      } else {
        const param = (name: string) => url.searchParams.get(name) ?? "";
        const token = await lnurl.login({ k1: param("k1"), sig: param("sig"), key: param("key") });
        json(res, 200, { status: "OK", token });
      }
    } catch (error) {
      if (isVssError(error) && error.kind === "auth") {
        json(res, 401, { status: "ERROR", reason: error.message });
      } else {
        logger.error({ err: error }, "LNURL-auth failed");
        json(res, 500, { status: "ERROR", reason: "internal server error" });
      }
    }
    return true;
  };
}

function originOf(req: NodeRequest, publicUrl: string | undefined): string {
  if (publicUrl !== undefined) return publicUrl;
  const host = req.headers[":authority"] ?? req.headers.host ?? "localhost";
  const encrypted = "encrypted" in req.socket && req.socket.encrypted === true;
  return `${encrypted ? "https" : "http"}://${String(host)}`;
}

function json(res: NodeResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.setHeader("cache-control", "no-store");
  res.end(JSON.stringify(body));
}
