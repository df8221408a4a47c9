import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

/**
 * gRPC over HTTP/2 exists in Node only. The client loads this module on
 * demand, and package.json's `browser` field maps it away, so bundles for
 * browsers never contain connect-node.
 */
export function createNodeGrpcTransport(baseUrl: string): Transport {
  return createGrpcTransport({ baseUrl });
}
