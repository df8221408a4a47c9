import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DeleteObjectRequestSchema,
  GetObjectRequestSchema,
  ListKeyVersionsRequestSchema,
  PutObjectRequestSchema,
} from "../gen/vss/vss_pb.js";
import type { App } from "../src/app.js";
import { createBinaryClient } from "./support/binary-client.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";

const bytes = (s: string) => new TextEncoder().encode(s);

// Valid requests of every call, to mutate.
const SEEDS: Record<string, Uint8Array> = {
  getObject: toBinary(
    GetObjectRequestSchema,
    create(GetObjectRequestSchema, { storeId: "s", key: "k1" }),
  ),
  putObjects: toBinary(
    PutObjectRequestSchema,
    create(PutObjectRequestSchema, {
      storeId: "s",
      globalVersion: 3n,
      transactionItems: [{ key: "k1", version: 1n, value: bytes("value") }],
      deleteItems: [{ key: "k2", version: -1n }],
    }),
  ),
  deleteObject: toBinary(
    DeleteObjectRequestSchema,
    create(DeleteObjectRequestSchema, { storeId: "s", keyValue: { key: "k1", version: 1n } }),
  ),
  listKeyVersions: toBinary(
    ListKeyVersionsRequestSchema,
    create(ListKeyVersionsRequestSchema, {
      storeId: "s",
      keyPrefix: "k",
      pageSize: 2,
      pageToken: "12",
    }),
  ),
};
const CALLS = Object.keys(SEEDS);
const RPC = {
  getObject: "GetObject",
  putObjects: "PutObjects",
  deleteObject: "DeleteObject",
  listKeyVersions: "ListKeyVersions",
} as Record<string, string>;

/** A body: random bytes, or a valid request with bytes flipped, cut, inserted or repeated. */
const body = (call: string) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc
      .tuple(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.nat(),
        fc.uint8Array({ maxLength: 16 }),
        fc.constantFrom("flip", "cut", "insert", "double"),
      )
      .map(([flips, at, extra, how]) => {
        const seed = SEEDS[call] ?? new Uint8Array();
        const out = Uint8Array.from(seed);
        if (how === "flip") for (const [i, v] of flips) out[i % out.length] = v;
        if (how === "cut") return out.subarray(0, at % out.length);
        if (how === "insert") {
          const i = at % out.length;
          return Uint8Array.from([...out.subarray(0, i), ...extra, ...out.subarray(i)]);
        }
        if (how === "double") return Uint8Array.from([...out, ...out]);
        return out;
      }),
  );

describe("fuzzing the decoders and handlers", () => {
  let app: App;
  const owner = createTestSigner();
  const fuzzer = createTestSigner();
  let snapshot: string;

  const describeStore = async () => {
    const client = createBinaryClient(app.url, () => owner.header());
    const page = await client.listKeyVersions({ storeId: "s", pageSize: 100 });
    const values = await Promise.all(
      page.keyVersions.map(async (k) => {
        const got = await client.getObject({ storeId: "s", key: k.key });
        return `${k.key}@${k.version}=${Buffer.from(got.value?.value ?? []).toString("hex")}`;
      }),
    );
    return `${page.globalVersion}|${values.join(",")}`;
  };

  beforeAll(async () => {
    app = await startServer({ kind: "embedded", dataDir: "memory://" });
    const client = createBinaryClient(app.url, () => owner.header());
    await client.putObjects({
      storeId: "s",
      globalVersion: 0n,
      transactionItems: [
        { key: "k1", version: 0n, value: bytes("one") },
        { key: "k2", version: 0n, value: bytes("two") },
      ],
    });
    snapshot = await describeStore();
  });
  afterAll(() => app?.close());

  it("never answers 5xx to random or mutated bodies on the binary form", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...CALLS).chain((call) => fc.tuple(fc.constant(call), body(call))),
        async ([call, payload]) => {
          const response = await fetch(`${app.url}/vss/${call}`, {
            method: "POST",
            headers: { authorization: fuzzer.header() },
            body: payload,
          });
          await response.arrayBuffer();
          expect(response.status).toBeLessThan(500);
          expect(response.headers.get("vss-protocol-version")).toBe("0");
        },
      ),
      { numRuns: 400, seed: 20261121 },
    );
  });

  it("never answers an internal error to random or mutated messages on Connect and gRPC-Web", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom(...CALLS)
          .chain((call) => fc.tuple(fc.constant(call), body(call), fc.boolean())),
        async ([call, payload, grpcWeb]) => {
          const envelope = new Uint8Array(5 + payload.length);
          new DataView(envelope.buffer).setUint32(1, payload.length);
          envelope.set(payload, 5);
          const response = await fetch(`${app.url}/vss.VssService/${RPC[call]}`, {
            method: "POST",
            headers: {
              authorization: fuzzer.header(),
              "content-type": grpcWeb ? "application/grpc-web+proto" : "application/proto",
            },
            body: grpcWeb ? envelope : payload,
          });
          const text = new TextDecoder().decode(await response.arrayBuffer());
          expect(response.status).toBeLessThan(500);
          const grpcStatus =
            response.headers.get("grpc-status") ?? /grpc-status: ?(\d+)/.exec(text)?.[1];
          expect(["13", "14"]).not.toContain(grpcStatus);
        },
      ),
      { numRuns: 300, seed: 424242 },
    );
  });

  it("never answers 5xx to random Authorization headers", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.stringMatching(/^[0-9a-f]{66}[0-9a-f]{128}[0-9]{1,12}$/),
          fc.string({ maxLength: 80 }).map((s) => `Bearer ${s}`),
        ),
        async (header) => {
          const response = await fetch(`${app.url}/vss/getObject`, {
            method: "POST",
            headers: { authorization: header.replace(/[^\x20-\x7e]/g, "") },
            body: Buffer.from(SEEDS["getObject"] ?? []),
          });
          await response.arrayBuffer();
          expect(response.status).toBe(401);
        },
      ),
      { numRuns: 200, seed: 7 },
    );
  });

  it("leaves other users' data untouched and the server healthy", async () => {
    expect(await describeStore()).toBe(snapshot);
    expect((await fetch(`${app.url}/vss/health`)).status).toBe(200);
  });
});
