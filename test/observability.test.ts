import { Writable } from "node:stream";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VssService } from "../gen/vss/vss_pb.js";
import type { App } from "../src/app.js";
import { identityHash } from "../src/server/observability.js";
import { createBinaryClient } from "./support/binary-client.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";

describe("logs, metrics and probes", () => {
  let app: App;
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const signer = createTestSigner();
  const SECRET_VALUE = "do-not-log-this-value";

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split("\n").filter(Boolean)) {
          raw.push(line);
          lines.push(JSON.parse(line) as Record<string, unknown>);
        }
        done();
      },
    });
    app = await startServer(
      { kind: "embedded", dataDir: "memory://" },
      {},
      { logger: pino({ level: "info" }, sink) },
    );
  });
  afterAll(() => app?.close());

  it("logs each call with request id, method, protocol, identity hash, duration and outcome, and never values or credentials", async () => {
    const client = createBinaryClient(app.url, () => signer.header());
    await client.putObjects({
      storeId: "s",
      transactionItems: [{ key: "k", version: 0n, value: new TextEncoder().encode(SECRET_VALUE) }],
    });
    await client
      .putObjects({
        storeId: "s",
        transactionItems: [{ key: "k", version: 0n, value: new Uint8Array() }],
      })
      .catch(() => {});
    const grpc = createClient(VssService, createGrpcTransport({ baseUrl: app.url }));
    await grpc.getObject(
      { storeId: "s", key: "k" },
      { headers: { authorization: signer.header(), "x-request-id": "trace-123" } },
    );

    const calls = lines.filter((l) => l["msg"] === "call");
    expect(calls.map((c) => [c["method"], c["protocol"], c["outcome"]])).toEqual([
      ["PutObjects", "binary", "ok"],
      ["PutObjects", "binary", "conflict"],
      ["GetObject", "grpc", "ok"],
    ]);
    for (const call of calls) {
      expect(call["identity"]).toBe(identityHash(signer.publicKeyHex));
      expect(typeof call["ms"]).toBe("number");
      expect(String(call["requestId"]).length).toBeGreaterThan(0);
    }
    expect(calls[2]?.["requestId"]).toBe("trace-123");
    const everything = raw.join("\n");
    expect(everything).not.toContain(SECRET_VALUE);
    expect(everything).not.toContain(Buffer.from(SECRET_VALUE).toString("base64"));
    expect(everything).not.toContain(signer.publicKeyHex);
  });

  it("exports Prometheus metrics by method, protocol and outcome", async () => {
    await createBinaryClient(app.url, () => "garbage")
      .listKeyVersions({ storeId: "s" })
      .catch(() => {});
    const response = await fetch(`${app.url}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(
      /vss_requests_total\{method="PutObjects",protocol="binary",outcome="conflict"\} 1/,
    );
    expect(text).toMatch(
      /vss_requests_total\{method="ListKeyVersions",protocol="binary",outcome="auth"\} 1/,
    );
    expect(text).toMatch(
      /vss_request_duration_seconds_bucket\{le="0.1",method="GetObject",protocol="grpc"\} 1/,
    );
    expect(text).toMatch(/vss_db_pool_size 1/);
    expect(text).toMatch(/vss_db_operations_in_flight 0/);
    expect(text).toMatch(/process_resident_memory_bytes/);
  });

  it("answers liveness and readiness", async () => {
    expect((await fetch(`${app.url}/vss/live`)).status).toBe(200);
    expect((await fetch(`${app.url}/vss/ready`)).status).toBe(200);
    expect((await fetch(`${app.url}/vss/health`)).status).toBe(200);
  });
});
