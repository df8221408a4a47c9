import type { connectNodeAdapter } from "@connectrpc/connect-node";

// Connect's handler types cover http and http2 alike; the package does not
// export them by name, so take them from the adapter's signature.
/** A request handler for HTTP/1.1 and HTTP/2. */
export type NodeHandler = ReturnType<typeof connectNodeAdapter>;
/** A request on either protocol. */
export type NodeRequest = Parameters<NodeHandler>[0];
/** A response on either protocol. */
export type NodeResponse = Parameters<NodeHandler>[1];
