import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, VssService } from "../gen/vss/vss_pb.js";
import type { App } from "../src/app.js";
import { BinaryCallError, createBinaryClient } from "./support/binary-client.js";
import { storeTargets } from "./support/databases.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";

// Each item below counts 1000 bytes: a 3-byte key and a 997-byte value.
const item = (i: number, version = 0n) => ({
  key: `k${String(i).padStart(2, "0")}`,
  version,
  value: new Uint8Array(997).fill(i),
});

describe.each(storeTargets())("per-identity storage quota on $name", (target) => {
  let app: App;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const opened = await target.open();
    cleanup = opened.cleanup;
    app = await startServer(opened.database, { VSS_QUOTA_BYTES: "10000", VSS_QUOTA_KEYS: "15" });
  });
  afterAll(async () => {
    await app?.close();
    await cleanup?.();
  });

  const outcome = (call: Promise<unknown>) =>
    call.then(
      () => "ok",
      (e: unknown) =>
        e instanceof BinaryCallError
          ? `${e.status} ${ErrorCode[e.errorCode]} ${e.message}`
          : String(e),
    );

  it("lets exactly as many concurrent writes through as fit, and refuses the rest clearly", async () => {
    const signer = createTestSigner();
    const client = createBinaryClient(app.url, () => signer.header());
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        outcome(client.putObjects({ storeId: "s", transactionItems: [item(i)] })),
      ),
    );
    expect(results.filter((r) => r === "ok")).toHaveLength(10);
    const refused = results.filter((r) => r !== "ok");
    expect(refused).toHaveLength(10);
    for (const r of refused)
      expect(r).toMatch(/^400 INVALID_REQUEST_EXCEPTION .*storage quota exceeded/);
    const page = await client.listKeyVersions({ storeId: "s" });
    expect(page.keyVersions).toHaveLength(10);
  });

  it("counts across stores, frees space on delete and on smaller values, and spares other identities", async () => {
    const signer = createTestSigner();
    const client = createBinaryClient(app.url, () => signer.header());
    await client.putObjects({
      storeId: "a",
      transactionItems: [0, 1, 2, 3, 4].map((i) => item(i)),
    });
    await client.putObjects({
      storeId: "b",
      transactionItems: [5, 6, 7, 8, 9].map((i) => item(i)),
    });
    expect(
      await outcome(client.putObjects({ storeId: "c", transactionItems: [item(10)] })),
    ).toMatch(/quota/);
    // Replacing a value with a smaller one is allowed, and frees room.
    await client.putObjects({
      storeId: "a",
      transactionItems: [{ key: "k00", version: 1n, value: new Uint8Array(497) }],
    });
    await client.putObjects({
      storeId: "c",
      transactionItems: [{ key: "x", version: 0n, value: new Uint8Array(400) }],
    });
    await client.deleteObject({ storeId: "b", keyValue: { key: "k05", version: -1n } });
    await client.putObjects({ storeId: "b", deleteItems: [{ key: "k06", version: -1n }] });
    await client.putObjects({ storeId: "c", transactionItems: [item(11), item(12)] });

    const other = createTestSigner();
    await createBinaryClient(app.url, () => other.header()).putObjects({
      storeId: "a",
      transactionItems: [item(0)],
    });
  });

  it("limits the number of keys", async () => {
    const signer = createTestSigner();
    const client = createBinaryClient(app.url, () => signer.header());
    const small = (i: number) => ({ key: `s${i}`, version: 0n, value: new Uint8Array(1) });
    await client.putObjects({
      storeId: "s",
      transactionItems: Array.from({ length: 15 }, (_, i) => small(i)),
    });
    expect(
      await outcome(client.putObjects({ storeId: "s", transactionItems: [small(99)] })),
    ).toMatch(/15 keys|16 keys/);
    // Updating an existing key adds none.
    await client.putObjects({
      storeId: "s",
      transactionItems: [{ key: "s1", version: 1n, value: new Uint8Array(2) }],
    });
  });

  it("answers RESOURCE_EXHAUSTED on gRPC", async () => {
    const signer = createTestSigner();
    const grpc = createClient(VssService, createGrpcTransport({ baseUrl: app.url }));
    const error = await grpc
      .putObjects(
        {
          storeId: "s",
          transactionItems: [{ key: "big", version: 0n, value: new Uint8Array(20_000) }],
        },
        { headers: { authorization: signer.header() } },
      )
      .catch((e: unknown) => e);
    expect(ConnectError.from(error).code).toBe(Code.ResourceExhausted);
  });
});
