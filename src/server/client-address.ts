import { createContextKey } from "@connectrpc/connect";
import type { NodeRequest } from "./node-types.js";

/**
 * The client's address: the socket's peer, or, behind `trustedProxyHops`
 * proxies that each append to X-Forwarded-For, the entry that many places from
 * the right (what the outermost trusted proxy saw). Entries further left are
 * the client's own claims and never used. Undefined if there is none.
 */
export function clientAddress(req: NodeRequest, trustedProxyHops: number): string | undefined {
  if (trustedProxyHops > 0) {
    const header = req.headers["x-forwarded-for"];
    const entries = (Array.isArray(header) ? header.join(",") : (header ?? ""))
      .split(",")
      .map((entry) => entry.trim())
      .filter((entry) => entry !== "");
    const entry = entries[entries.length - trustedProxyHops];
    if (entry !== undefined) return entry;
  }
  return req.socket.remoteAddress;
}

/** Where the RPC adapter hands the client's address to the Connect routes. */
export const clientAddressKey = createContextKey<string | undefined>(undefined, {
  description: "the client's address",
});
