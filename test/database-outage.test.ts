import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, VssService } from "../gen/vss/vss_pb.js";
import type { App } from "../src/app.js";
import { BinaryCallError, createBinaryClient } from "./support/binary-client.js";
import { createTestDatabase, postgresAdminUrl, type TestDatabase } from "./support/databases.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";
import { createTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";

const adminUrl = postgresAdminUrl();

describe.skipIf(adminUrl === undefined)("when PostgreSQL becomes unreachable", () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let app: App;
  const signer = createTestSigner();

  beforeAll(async () => {
    db = await createTestDatabase(adminUrl ?? "");
    const url = new URL(db.url);
    proxy = await createTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.hostname = "127.0.0.1";
    url.port = String(proxy.port);
    app = await startServer({ kind: "postgres", url: url.toString(), poolSize: 2 });
  });
  afterAll(async () => {
    await app?.close();
    await proxy?.close();
    await db?.drop();
  });

  it("fails calls with INTERNAL / UNAVAILABLE, turns health to 503, and recovers by itself", async () => {
    const binary = createBinaryClient(app.url, () => signer.header());
    const grpc = createClient(VssService, createGrpcTransport({ baseUrl: app.url }));
    const headers = () => ({ authorization: signer.header() });
    await binary.putObjects({
      storeId: "s",
      transactionItems: [{ key: "k", version: 0n, value: new Uint8Array([1]) }],
    });

    await proxy.cut();
    const started = Date.now();
    const failure = await binary.getObject({ storeId: "s", key: "k" }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(BinaryCallError);
    expect((failure as BinaryCallError).status).toBe(500);
    expect((failure as BinaryCallError).errorCode).toBe(ErrorCode.INTERNAL_SERVER_EXCEPTION);
    expect((failure as BinaryCallError).message).not.toMatch(/ECONN|127\.0\.0\.1/);
    const rpcFailure = await grpc
      .getObject({ storeId: "s", key: "k" }, { headers: headers() })
      .catch((e: unknown) => e);
    expect(ConnectError.from(rpcFailure).code).toBe(Code.Unavailable);
    expect((await fetch(`${app.url}/vss/health`)).status).toBe(503);
    // Bounded, not hanging: well under the client's patience.
    expect(Date.now() - started).toBeLessThan(30_000);

    await proxy.restore();
    let recovered = false;
    for (let i = 0; i < 50 && !recovered; i++) {
      recovered = (await fetch(`${app.url}/vss/health`)).status === 200;
      if (!recovered) await new Promise((r) => setTimeout(r, 200));
    }
    expect(recovered).toBe(true);
    expect((await binary.getObject({ storeId: "s", key: "k" })).value?.version).toBe(1n);
  });
});
