import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { equalBytes } from "@noble/ciphers/utils.js";
import {
  DeleteObjectRequestSchema,
  DeleteObjectResponseSchema,
  ErrorCode,
  ErrorResponseSchema,
  GetObjectRequestSchema,
  GetObjectResponseSchema,
  ListKeyVersionsRequestSchema,
  ListKeyVersionsResponseSchema,
  PutObjectRequestSchema,
  PutObjectResponseSchema,
  VssService,
} from "../../gen/vss/vss_pb.js";
import type { AuthProvider } from "./auth.js";

/** How a call failed. */
export type VssClientErrorKind =
  | "conflict"
  | "invalid_request"
  | "no_such_key"
  | "auth"
  | "internal"
  | "unavailable"
  | "network";

const RETRYABLE = new Set<VssClientErrorKind>(["internal", "unavailable", "network"]);

/** The one error a VSS client throws. */
export class VssClientError extends Error {
  override readonly name = "VssClientError";
  /** How long the server asked to wait before trying again (its Retry-After), if it did. */
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly kind: VssClientErrorKind,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number | undefined },
  ) {
    super(message, options?.cause === undefined ? {} : { cause: options.cause });
    this.retryAfterMs = options?.retryAfterMs;
  }
  /** Whether trying again may succeed: never for conflicts or bad requests. */
  get retryable(): boolean {
    return RETRYABLE.has(this.kind);
  }
}

/** How the client reaches the server. */
export type VssProtocol = "binary" | "connect" | "grpc-web" | "grpc";

/**
 * Retries of retryable failures: exponential backoff with full jitter, never
 * sooner than the server's Retry-After, bounded by attempts and elapsed time
 * (a Retry-After past the time left ends the retries at once).
 */
export interface RetryOptions {
  readonly maxAttempts?: number;
  readonly maxElapsedMs?: number;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
}

/** Options of {@link createVssClient}. */
export interface VssClientOptions {
  /** The server's origin, e.g. https://vss.example.com. */
  readonly baseUrl: string;
  /** The store to use; the empty string is a valid store. */
  readonly storeId: string;
  /** `binary` (the form LDK Node speaks, the default), `connect`, `grpc-web` (browsers) or `grpc` (Node). */
  readonly protocol?: VssProtocol;
  /** Base path of the binary form; default `/vss`. */
  readonly basePath?: string;
  readonly auth?: AuthProvider;
  readonly retry?: RetryOptions;
  readonly fetch?: typeof fetch;
}

/** A stored key with its version and value. */
export interface VssItem {
  readonly key: string;
  readonly version: bigint;
  readonly value: Uint8Array;
}

/** One page of a listing. */
export interface VssPage {
  readonly keys: readonly { readonly key: string; readonly version: bigint }[];
  /** Present on the first page only. */
  readonly globalVersion?: bigint;
  /** Undefined on the last page. */
  readonly nextPageToken?: string;
}

/** A VSS client for one store. */
export interface VssClient {
  /** The value and version of `key`; VssClientError `no_such_key` if missing. */
  get(key: string): Promise<VssItem>;
  /** The store's global version (0 if never set). */
  globalVersion(): Promise<bigint>;
  /**
   * Writes and deletes all or nothing. Item versions: 0 creates, n updates
   * from n, -1 overwrites. With `globalVersion`, the store's global version
   * must equal it (and is then bumped).
   *
   * A retried put can meet its own earlier attempt: when an attempt's answer
   * was lost (network error, 5xx) and a retry then fails with a conflict, the
   * client reads the store back, and if it holds exactly what this put wrote
   * (every value, each conditional item at its version + 1, deletes gone, the
   * global version + 1), the put succeeded and resolves. Otherwise the
   * conflict stands.
   */
  put(
    items: readonly VssItem[],
    options?: {
      readonly deletes?: readonly { key: string; version: bigint }[];
      readonly globalVersion?: bigint;
    },
  ): Promise<void>;
  /**
   * Whether the store now holds exactly what `put(items, options)` would have
   * written: each value, each conditional item at its version + 1, each delete
   * gone, the global version + 1. False on any doubt (including a failed read).
   */
  holds(
    items: readonly VssItem[],
    options?: {
      readonly deletes?: readonly { key: string; version: bigint }[];
      readonly globalVersion?: bigint;
    },
  ): Promise<boolean>;
  /** Deletes `key` if its version matches (-1: any); succeeds if it is already gone. */
  delete(key: string, version?: bigint): Promise<void>;
  list(options?: {
    readonly prefix?: string;
    readonly pageSize?: number;
    readonly pageToken?: string;
  }): Promise<VssPage>;
  /** Every key (and version), page after page. */
  listAll(options?: {
    readonly prefix?: string;
    readonly pageSize?: number;
  }): AsyncIterable<{ key: string; version: bigint }>;
}

type Call = <I extends DescMessage, O extends DescMessage>(
  method: "getObject" | "putObjects" | "deleteObject" | "listKeyVersions",
  input: I,
  output: O,
  request: MessageInitShape<I>,
) => Promise<MessageShape<O>>;

const KIND_BY_CODE: Record<number, VssClientErrorKind> = {
  [ErrorCode.CONFLICT_EXCEPTION]: "conflict",
  [ErrorCode.INVALID_REQUEST_EXCEPTION]: "invalid_request",
  [ErrorCode.NO_SUCH_KEY_EXCEPTION]: "no_such_key",
  [ErrorCode.AUTH_EXCEPTION]: "auth",
  [ErrorCode.INTERNAL_SERVER_EXCEPTION]: "internal",
};

/** Creates a client; every call is authenticated with `auth` and retried per `retry`. */
export function createVssClient(options: VssClientOptions): VssClient {
  const call = withRetry(createCall(options), options.retry ?? {});
  const { storeId } = options;
  const client: VssClient = {
    async get(key) {
      const response = await call("getObject", GetObjectRequestSchema, GetObjectResponseSchema, {
        storeId,
        key,
      });
      const value = response.value;
      return {
        key: value?.key ?? key,
        version: value?.version ?? 0n,
        value: value?.value ?? new Uint8Array(0),
      };
    },
    async globalVersion() {
      const response = await call("getObject", GetObjectRequestSchema, GetObjectResponseSchema, {
        storeId,
        key: "global_version",
      });
      return response.value?.version ?? 0n;
    },
    async put(items, opts = {}) {
      try {
        await call("putObjects", PutObjectRequestSchema, PutObjectResponseSchema, {
          storeId,
          transactionItems: [...items],
          deleteItems: (opts.deletes ?? []).map((d) => ({ key: d.key, version: d.version })),
          ...(opts.globalVersion === undefined ? {} : { globalVersion: opts.globalVersion }),
        });
      } catch (error) {
        if (!(error instanceof VssClientError && conflictsAfterLostAnswer.has(error))) throw error;
        if (!(await client.holds(items, opts))) throw error;
      }
    },
    async holds(items, opts = {}) {
      // Without an item there is no value to recognize the write by.
      if (items.length === 0) return false;
      try {
        for (const item of items) {
          const stored = await client.get(item.key);
          if (!equalBytes(stored.value, item.value)) return false;
          if (item.version !== -1n && stored.version !== item.version + 1n) return false;
        }
        for (const d of opts.deletes ?? []) {
          const gone = await client.get(d.key).then(
            () => false,
            (e: unknown) => e instanceof VssClientError && e.kind === "no_such_key",
          );
          if (!gone) return false;
        }
        return (
          opts.globalVersion === undefined ||
          (await client.globalVersion()) === opts.globalVersion + 1n
        );
      } catch {
        return false;
      }
    },
    async delete(key, version = -1n) {
      await call("deleteObject", DeleteObjectRequestSchema, DeleteObjectResponseSchema, {
        storeId,
        keyValue: { key, version },
      });
    },
    async list(opts = {}) {
      const response = await call(
        "listKeyVersions",
        ListKeyVersionsRequestSchema,
        ListKeyVersionsResponseSchema,
        {
          storeId,
          ...(opts.prefix === undefined ? {} : { keyPrefix: opts.prefix }),
          ...(opts.pageSize === undefined ? {} : { pageSize: opts.pageSize }),
          ...(opts.pageToken === undefined ? {} : { pageToken: opts.pageToken }),
        },
      );
      return {
        keys: response.keyVersions.map((k) => ({ key: k.key, version: k.version })),
        ...(response.globalVersion === undefined ? {} : { globalVersion: response.globalVersion }),
        ...(response.nextPageToken ? { nextPageToken: response.nextPageToken } : {}),
      };
    },
    async *listAll(opts = {}) {
      let pageToken: string | undefined;
      // Bounded: a server handing out tokens forever cannot loop us forever.
      for (let pages = 0; pages < 1_000_000; pages++) {
        const page = await client.list({
          ...opts,
          ...(pageToken === undefined ? {} : { pageToken }),
        });
        yield* page.keys;
        pageToken = page.nextPageToken;
        if (pageToken === undefined) return;
      }
    },
  };
  return client;
}

function createCall(options: VssClientOptions): Call {
  const protocol = options.protocol ?? "binary";
  const auth = options.auth ?? (async () => ({}));
  if (protocol === "binary") {
    const base = `${options.baseUrl.replace(/\/+$/, "")}${options.basePath ?? "/vss"}`;
    const doFetch = options.fetch ?? fetch;
    return async (method, input, output, request) => {
      let response: Response;
      try {
        response = await doFetch(`${base}/${method}`, {
          method: "POST",
          headers: { "content-type": "application/octet-stream", ...(await auth()) },
          body: toBinary(input, create(input, request)),
        });
      } catch (error) {
        throw new VssClientError("network", `cannot reach ${base}: ${String(error)}`, {
          cause: error,
        });
      }
      const body = new Uint8Array(await response.arrayBuffer());
      if (response.headers.get("vss-protocol-version") !== "0") {
        throw new VssClientError(
          "internal",
          `not a VSS server (no vss-protocol-version: 0), HTTP ${response.status}`,
        );
      }
      if (response.ok) return fromBinary(output, body);
      let decoded: { errorCode: ErrorCode; message: string } | undefined;
      try {
        decoded = fromBinary(ErrorResponseSchema, body);
      } catch {
        decoded = undefined;
      }
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
      if (decoded === undefined) {
        throw new VssClientError("internal", `HTTP ${response.status} without an ErrorResponse`, {
          retryAfterMs,
        });
      }
      throw new VssClientError(KIND_BY_CODE[decoded.errorCode] ?? "internal", decoded.message, {
        retryAfterMs,
      });
    };
  }
  let client: Promise<Client<typeof VssService>> | undefined;
  const transport = async (): Promise<Transport> => {
    const baseUrl = options.baseUrl;
    const fetchOption = options.fetch === undefined ? {} : { fetch: options.fetch };
    if (protocol === "connect")
      return createConnectTransport({ baseUrl, useBinaryFormat: true, ...fetchOption });
    if (protocol === "grpc-web") return createGrpcWebTransport({ baseUrl, ...fetchOption });
    // HTTP/2 gRPC exists in Node only: loaded on demand, never bundled for browsers.
    const { createNodeGrpcTransport } = await import("./node-grpc.js");
    // Browser bundles map node-grpc.js to an empty module (package.json `browser`).
    if (typeof createNodeGrpcTransport !== "function") {
      throw new VssClientError(
        "invalid_request",
        'protocol "grpc" needs Node (HTTP/2); browsers use "grpc-web" or "connect"',
      );
    }
    return createNodeGrpcTransport(baseUrl);
  };
  const methods = {
    getObject: "getObject",
    putObjects: "putObjects",
    deleteObject: "deleteObject",
    listKeyVersions: "listKeyVersions",
  } as const;
  return async (method, _input, _output, request) => {
    client ??= transport().then((t) => createClient(VssService, t));
    const stub = await client;
    try {
      const fn = stub[methods[method]] as (
        r: unknown,
        o: { headers: Record<string, string> },
      ) => Promise<unknown>;
      return (await fn(request, { headers: await auth() })) as never;
    } catch (error) {
      throw fromConnectError(error);
    }
  };
}

function fromConnectError(error: unknown): VssClientError {
  const e = ConnectError.from(error);
  const detail = e.findDetails(ErrorResponseSchema)[0];
  const retryAfterMs = parseRetryAfter(e.metadata.get("retry-after"));
  if (detail !== undefined && e.code !== Code.Unavailable) {
    return new VssClientError(KIND_BY_CODE[detail.errorCode] ?? "internal", detail.message, {
      cause: error,
      retryAfterMs,
    });
  }
  const kind: VssClientErrorKind =
    e.code === Code.Unavailable
      ? "unavailable"
      : e.code === Code.NotFound
        ? "no_such_key"
        : e.code === Code.Aborted
          ? "conflict"
          : e.code === Code.InvalidArgument
            ? "invalid_request"
            : e.code === Code.Unauthenticated
              ? "auth"
              : e.code === Code.Unknown
                ? "network"
                : "internal";
  return new VssClientError(kind, e.rawMessage, { cause: error, retryAfterMs });
}

/** A Retry-After of whole seconds (the form VSS servers send), in milliseconds. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || !/^\d{1,6}$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}

/** Conflicts met by a retry after an attempt whose answer was lost (it may have committed). */
const conflictsAfterLostAnswer = new WeakSet<VssClientError>();

function withRetry(call: Call, retry: RetryOptions): Call {
  const maxAttempts = retry.maxAttempts ?? 5;
  const maxElapsedMs = retry.maxElapsedMs ?? 30_000;
  const initialDelayMs = retry.initialDelayMs ?? 50;
  const maxDelayMs = retry.maxDelayMs ?? 5_000;
  return async (method, input, output, request) => {
    const started = Date.now();
    // Whether an earlier attempt failed in a way that may hide a commit.
    let answerLost = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await call(method, input, output, request);
      } catch (error) {
        const vss =
          error instanceof VssClientError
            ? error
            : new VssClientError("internal", String(error), { cause: error });
        if (answerLost && vss.kind === "conflict") conflictsAfterLostAnswer.add(vss);
        // Full jitter, but never sooner than the server asked (Retry-After).
        const delay = Math.max(
          Math.random() * Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1)),
          vss.retryAfterMs ?? 0,
        );
        if (!vss.retryable || attempt >= maxAttempts || Date.now() - started + delay > maxElapsedMs)
          throw vss;
        answerLost = true;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };
}
