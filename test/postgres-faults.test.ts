import { readFileSync } from "node:fs";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, VssService } from "../gen/vss/vss_pb.js";
import type { App } from "../src/app.js";
import { BinaryCallError, createBinaryClient } from "./support/binary-client.js";
import {
  type PostgresCluster,
  postgresBinForTests,
  startPostgresCluster,
} from "./support/postgres-cluster.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";

const bin = postgresBinForTests();

describe.skipIf(bin === undefined)("a real PostgreSQL that stops and comes back", () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgresCluster(bin ?? "");
  });
  afterAll(() => cluster?.destroy());

  it("fails calls fast with INTERNAL / UNAVAILABLE, reports 503, and recovers without a restart", async () => {
    const app: App = await startServer({
      kind: "postgres",
      url: cluster.url,
      poolSize: 4,
      connectTimeoutSecs: 2,
      statementTimeoutMs: 5000,
    });
    try {
      const signer = createTestSigner();
      const binary = createBinaryClient(app.url, () => signer.header());
      const grpc = createClient(VssService, createGrpcTransport({ baseUrl: app.url }));
      await binary.putObjects({
        storeId: "s",
        transactionItems: [{ key: "k", version: 0n, value: new Uint8Array([1]) }],
      });

      cluster.stop();
      const started = Date.now();
      const failure = await binary.getObject({ storeId: "s", key: "k" }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(BinaryCallError);
      expect((failure as BinaryCallError).errorCode).toBe(ErrorCode.INTERNAL_SERVER_EXCEPTION);
      const rpc = await grpc
        .putObjects(
          {
            storeId: "s",
            transactionItems: [{ key: "k2", version: 0n, value: new Uint8Array([2]) }],
          },
          { headers: { authorization: signer.header() } },
        )
        .catch((e: unknown) => e);
      expect(ConnectError.from(rpc).code).toBe(Code.Unavailable);
      expect((await fetch(`${app.url}/vss/health`)).status).toBe(503);
      expect((await fetch(`${app.url}/vss/ready`)).status).toBe(503);
      expect((await fetch(`${app.url}/vss/live`)).status).toBe(200);
      expect(Date.now() - started).toBeLessThan(15_000);

      cluster.start();
      let healthy = false;
      for (let i = 0; i < 100 && !healthy; i++) {
        healthy = (await fetch(`${app.url}/vss/health`)).status === 200;
        if (!healthy) await new Promise((r) => setTimeout(r, 100));
      }
      expect(healthy).toBe(true);
      expect((await binary.getObject({ storeId: "s", key: "k" })).value?.version).toBe(1n);
      // The refused put did not happen.
      await expect(binary.getObject({ storeId: "s", key: "k2" })).rejects.toMatchObject({
        status: 404,
      });
    } finally {
      await app.close();
    }
  });

  it("migrates once when several instances start at the same time", async () => {
    const admin = postgres(cluster.url, { max: 1, onnotice: () => {} });
    await admin.unsafe("create database vss_race");
    await admin.end();
    const url = cluster.url.replace(/\/postgres$/, "/vss_race");
    const apps = await Promise.all(
      Array.from({ length: 4 }, () => startServer({ kind: "postgres", url, poolSize: 2 })),
    );
    try {
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      const applied = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
      await sql.end();
      const journal = JSON.parse(readFileSync("drizzle/meta/_journal.json", "utf8")) as {
        entries: unknown[];
      };
      expect(applied[0]?.["n"]).toBe(journal.entries.length);
      const signer = createTestSigner();
      for (const app of apps) {
        await createBinaryClient(app.url, () => signer.header()).listKeyVersions({ storeId: "s" });
      }
    } finally {
      await Promise.all(apps.map((app) => app.close()));
    }
  });
});
