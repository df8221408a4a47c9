import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import {
  DeleteObjectRequestSchema,
  DeleteObjectResponseSchema,
  ErrorResponseSchema,
  GetObjectRequestSchema,
  GetObjectResponseSchema,
  ListKeyVersionsRequestSchema,
  ListKeyVersionsResponseSchema,
  PutObjectRequestSchema,
  PutObjectResponseSchema,
} from "../../gen/vss/vss_pb.js";
import type { Admission } from "../core/admission.js";
import type { Authorizer } from "../core/authorizer.js";
import { invalidRequest, type VssErrorKind } from "../core/errors.js";
import type { VssService } from "../core/service.js";
import { clientAddress } from "./client-address.js";
import {
  asVssError,
  errorBody,
  errorHeadersOf,
  errorResponseOf,
  httpStatusOf,
} from "./error-mapping.js";
import type { NodeRequest, NodeResponse } from "./node-types.js";
import type { Observability } from "./observability.js";

interface BinaryRoute<I extends DescMessage, O extends DescMessage> {
  /** The call's name, as in the service. */
  readonly name: string;
  readonly input: I;
  readonly output: O;
  readonly call: (
    service: VssService,
    userToken: string,
    request: MessageShape<I>,
  ) => Promise<MessageShape<O>>;
}

const route = <I extends DescMessage, O extends DescMessage>(r: BinaryRoute<I, O>) => r;

/** The binary HTTP form: POST {base}/<call>, protobuf in, protobuf out. */
const ROUTES: Record<string, BinaryRoute<DescMessage, DescMessage>> = {
  "/getObject": route({
    name: "GetObject",
    input: GetObjectRequestSchema,
    output: GetObjectResponseSchema,
    call: (s, u, r) => s.getObject(u, r),
  }),
  "/putObjects": route({
    name: "PutObjects",
    input: PutObjectRequestSchema,
    output: PutObjectResponseSchema,
    call: (s, u, r) => s.putObjects(u, r),
  }),
  "/deleteObject": route({
    name: "DeleteObject",
    input: DeleteObjectRequestSchema,
    output: DeleteObjectResponseSchema,
    call: (s, u, r) => s.deleteObject(u, r),
  }),
  "/listKeyVersions": route({
    name: "ListKeyVersions",
    input: ListKeyVersionsRequestSchema,
    output: ListKeyVersionsResponseSchema,
    call: (s, u, r) => s.listKeyVersions(u, r),
  }),
} as unknown as Record<string, BinaryRoute<DescMessage, DescMessage>>;

/** Dependencies of {@link createBinaryHandler}. */
export interface BinaryHandlerOptions {
  readonly service: VssService;
  readonly authorizer: Authorizer;
  readonly admission: Admission;
  readonly observability: Observability;
  readonly basePath: string;
  readonly maxRequestBodySize: number;
  readonly logger: Logger;
  /** Trusted proxies in front, for the client's address (see clientAddress). */
  readonly trustedProxyHops: number;
}

/**
 * Serves the binary HTTP form that existing clients (the Rust client, LDK
 * Node) speak. Every error body is a serialized ErrorResponse, since those
 * clients decode one from any non-2xx response.
 */
export function createBinaryHandler(options: BinaryHandlerOptions) {
  const {
    service,
    authorizer,
    admission,
    observability,
    basePath,
    maxRequestBodySize,
    logger,
    trustedProxyHops,
  } = options;

  const fail = (res: NodeResponse, status: number, kind: VssErrorKind, message: string) =>
    send(res, status, errorBody(kind, message));

  return async (req: NodeRequest, res: NodeResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const sub = path.startsWith(`${basePath}/`) ? path.slice(basePath.length) : undefined;

    const target = sub === undefined ? undefined : ROUTES[sub];
    if (target === undefined) {
      // INVALID_REQUEST, not NO_SUCH_KEY: a misconfigured base path must never
      // look like a missing key to a wallet.
      return fail(res, 404, "invalid_request", `unknown path ${path}`);
    }
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      return fail(res, 405, "invalid_request", `use POST for ${path}`);
    }

    const startedAt = performance.now();
    const requestId = observability.requestId(headerValue(req, "x-request-id"));
    res.setHeader("x-request-id", requestId);
    let identity: string | undefined;
    let failure: unknown;
    let release: (() => void) | undefined;
    try {
      // Authenticate and admit before reading the body: strangers and
      // over-eager callers cannot make us buffer.
      const userToken = await admission.authenticate(
        authorizer,
        { get: (name) => headerValue(req, name) },
        clientAddress(req, trustedProxyHops),
      );
      identity = userToken;
      release = await admission.admit(userToken);
      const body = await readBody(req, maxRequestBodySize);
      if (body === undefined) {
        // The rest of the body is not read: close the connection after this.
        if ("shouldKeepAlive" in res) res.shouldKeepAlive = false;
        failure = invalidRequest(`request body larger than ${maxRequestBodySize} bytes`);
        return send(res, 413, errorBody("invalid_request", (failure as Error).message));
      }
      let request: MessageShape<DescMessage>;
      try {
        request = fromBinary(target.input, body);
      } catch (error) {
        throw invalidRequest(`malformed ${target.input.name}: ${(error as Error).message}`);
      }
      const response = await target.call(service, userToken, request);
      return send(res, 200, toBinary(target.output, response));
    } catch (error) {
      failure = error;
      const vss = asVssError(error);
      if (vss.kind === "internal" && vss.reason === undefined) {
        logger.error({ err: vss.cause ?? vss, path }, "call failed");
      }
      for (const [name, value] of Object.entries(errorHeadersOf(vss))) res.setHeader(name, value);
      return send(res, httpStatusOf(vss), toBinary(ErrorResponseSchema, errorResponseOf(vss)));
    } finally {
      release?.();
      observability.record({
        requestId,
        method: target.name,
        protocol: "binary",
        identity,
        startedAt,
        ...(failure === undefined ? {} : { error: failure }),
      });
    }
  };
}

function send(res: NodeResponse, status: number, body: Uint8Array): void {
  if (res.headersSent) return;
  res.statusCode = status;
  res.setHeader("content-type", "application/octet-stream");
  res.setHeader("content-length", body.length);
  res.end(body);
}

function headerValue(req: NodeRequest, name: string): string | null {
  const value = req.headers[name.toLowerCase()];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(", ") : value;
}

/**
 * The whole body, or undefined as soon as it is known to exceed `limit`
 * (from Content-Length, or while reading): an oversize body is never buffered.
 */
function readBody(req: NodeRequest, limit: number): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        resolve(undefined);
      } else {
        chunks.push(chunk);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new Error("request closed before its body ended"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}
