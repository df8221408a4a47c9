import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PutObjectRequestSchema } from "../gen/vss/vss_pb.js";
import { createBinaryClient } from "./support/binary-client.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";

describe("graceful shutdown", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "vss-shutdown-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("stops accepting, finishes the call in flight, then closes the store", async () => {
    const database = { kind: "embedded" as const, dataDir: dir };
    const signer = createTestSigner();
    const app = await startServer(database);
    const body = Buffer.from(
      toBinary(
        PutObjectRequestSchema,
        create(PutObjectRequestSchema, {
          storeId: "s",
          transactionItems: [
            { key: "in-flight", version: 0n, value: new Uint8Array(64 * 1024).fill(7) },
          ],
        }),
      ),
    );
    const url = new URL(`${app.url}/vss/putObjects`);
    // A call whose body is still arriving when shutdown begins.
    const response = new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: "POST",
          headers: { authorization: signer.header(), "content-length": body.length },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.write(body.subarray(0, 1000));
      setTimeout(() => req.end(body.subarray(1000)), 300);
    });
    await new Promise((r) => setTimeout(r, 100));
    const closing = app.close();
    await new Promise((r) => setTimeout(r, 50));
    await expect(fetch(`${app.url}/vss/health`)).rejects.toThrow();
    expect(await response).toBe(200);
    await closing;

    const again = await startServer(database);
    try {
      const got = await createBinaryClient(again.url, () => signer.header()).getObject({
        storeId: "s",
        key: "in-flight",
      });
      expect(got.value?.version).toBe(1n);
    } finally {
      await again.close();
    }
  });
});
