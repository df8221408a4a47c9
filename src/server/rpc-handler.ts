import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { fromBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createConnectRouter,
  createContextValues,
} from "@connectrpc/connect";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import type { Logger } from "pino";
import { clientAddress, clientAddressKey } from "./client-address.js";
import type { NodeHandler, NodeRequest } from "./node-types.js";

/** Options of {@link createRpcHandler}. */
export interface RpcHandlerOptions {
  readonly routes: (router: ConnectRouter) => void;
  /** Largest request message, in bytes. */
  readonly readMaxBytes: number;
  /** Serves every path that is not an RPC. */
  readonly fallback: NodeHandler;
  readonly logger: Logger;
  /** Trusted proxies in front (see clientAddress); the routes get the address as a context value. */
  readonly trustedProxyHops: number;
}

/**
 * Serves the Connect router's RPCs (gRPC, gRPC-Web, Connect) like Connect's
 * own node adapter, with one difference the contract needs: a binary request
 * message that cannot be decoded fails with INVALID_ARGUMENT. (Connect itself
 * reports such a message as INTERNAL; JSON it already reports correctly.)
 */
export function createRpcHandler(options: RpcHandlerOptions): NodeHandler {
  const router = createConnectRouter({
    acceptCompression: [compressionGzip, compressionBrotli],
    readMaxBytes: options.readMaxBytes,
  });
  options.routes(router);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));

  return (req, res) => {
    const handler = handlers.get((req.url ?? "").split("?", 2)[0] ?? "");
    if (handler === undefined || req.method !== "POST") {
      options.fallback(req, res);
      return;
    }
    const framing = framingOf(req);
    const serve = async () => {
      const values = createContextValues().set(
        clientAddressKey,
        clientAddress(req, options.trustedProxyHops),
      );
      const uReq = universalRequestFromNodeRequest(req, res, undefined, values);
      if (framing !== undefined) {
        const body = await readBounded(
          uReq.body as AsyncIterable<Uint8Array>,
          options.readMaxBytes,
        );
        uReq.body =
          body === undefined
            ? fail(Code.ResourceExhausted, `request larger than ${options.readMaxBytes} bytes`)
            : replay(
                body,
                decodeProblem(body, framing, req, options.readMaxBytes, (bytes) => {
                  fromBinary(handler.method.input, bytes);
                }),
              );
      }
      universalResponseToNodeResponse(await handler(uReq), res);
    };
    serve().catch((reason: unknown) => {
      if (ConnectError.from(reason).code !== Code.Aborted) {
        options.logger.error({ err: reason, rpc: handler.method.name }, "rpc handler failed");
      }
    });
  };
}

type Framing = "unary" | "enveloped";

/** Binary protocols whose request we check; others go to Connect untouched. */
function framingOf(req: NodeRequest): Framing | undefined {
  const type = String(req.headers["content-type"] ?? "")
    .split(";")[0]
    ?.trim()
    .toLowerCase();
  if (type === "application/proto") return "unary";
  if (
    type === "application/grpc" ||
    type === "application/grpc+proto" ||
    type === "application/grpc-web" ||
    type === "application/grpc-web+proto"
  ) {
    return "enveloped";
  }
  return undefined;
}

/** The whole body, or undefined once it passes `max` (Connect then refuses it). */
async function readBounded(
  body: AsyncIterable<Uint8Array>,
  max: number,
): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > max + 5) tooLarge = true;
    if (!tooLarge) chunks.push(chunk);
  }
  return tooLarge ? undefined : Buffer.concat(chunks, size);
}

/** The body again for Connect, failing with INVALID_ARGUMENT if it was undecodable. */
function replay(body: Uint8Array, problem: string | undefined): AsyncIterable<Uint8Array> {
  if (problem !== undefined)
    return fail(Code.InvalidArgument, `malformed request message: ${problem}`);
  return (async function* () {
    yield body;
  })();
}

/** A body that fails with `code` when Connect reads it, so Connect reports it. */
async function* fail(code: Code, message: string): AsyncIterable<Uint8Array> {
  yield* [];
  throw new ConnectError(message, code);
}

/** Why the request message cannot be decoded, or undefined if it can (or we cannot tell). */
function decodeProblem(
  body: Uint8Array,
  framing: Framing,
  req: NodeRequest,
  maxBytes: number,
  decode: (bytes: Uint8Array) => void,
): string | undefined {
  const header = (name: string) => String(req.headers[name] ?? "identity").toLowerCase();
  const messages: Uint8Array[] = [];
  if (framing === "unary") {
    const payload = decompress(body, header("content-encoding"), maxBytes);
    if (payload === undefined) return undefined;
    messages.push(payload);
  } else {
    const encoding = header("grpc-encoding");
    for (let offset = 0; offset < body.byteLength; ) {
      if (offset + 5 > body.byteLength) return undefined; // framing errors are Connect's to report
      const flags = body[offset] ?? 0;
      const length = new DataView(body.buffer, body.byteOffset + offset + 1, 4).getUint32(0);
      const data = body.subarray(offset + 5, offset + 5 + length);
      offset += 5 + length;
      if (data.byteLength !== length) return undefined;
      if ((flags & 0x80) !== 0) continue; // an end-of-stream frame, not a message
      const payload = (flags & 0x01) !== 0 ? decompress(data, encoding, maxBytes) : data;
      if (payload === undefined) return undefined;
      messages.push(payload);
    }
  }
  for (const message of messages) {
    try {
      decode(message);
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }
  return undefined;
}

function decompress(data: Uint8Array, encoding: string, maxBytes: number): Uint8Array | undefined {
  const limit = { maxOutputLength: maxBytes };
  try {
    switch (encoding) {
      case "identity":
        return data;
      case "gzip":
        return gunzipSync(data, limit);
      case "br":
        return brotliDecompressSync(data, limit);
      case "deflate":
        return inflateSync(data, limit);
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}
