import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../gen/vss/vss_pb.js";
import type { App } from "../src/app.js";
import { BinaryCallError, type BinaryClient, createBinaryClient } from "./support/binary-client.js";
import { createTestDatabase, postgresAdminUrl, type TestDatabase } from "./support/databases.js";
import { havePgBouncer, type PgBouncer, startPgBouncer } from "./support/pgbouncer.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";
import { startServerProcess } from "./support/server-process.js";

const adminUrl = postgresAdminUrl();
const bytes = (s: string) => new TextEncoder().encode(s);
if (process.env["CI"] === "true" && !havePgBouncer()) {
  throw new Error("CI needs pgbouncer (Debian package pgbouncer) for the scale-out tests");
}

const outcome = (call: Promise<unknown>) =>
  call.then(
    () => "ok",
    (e: unknown) => (e instanceof BinaryCallError ? ErrorCode[e.errorCode] : `error: ${String(e)}`),
  );

/** The contract's races and atomicity, with calls spread over several servers. */
async function checkAcrossServers(clients: BinaryClient[]): Promise<void> {
  const pick = (i: number) => clients[i % clients.length] as BinaryClient;
  await pick(0).putObjects({
    storeId: "s",
    transactionItems: [{ key: "hot", version: 0n, value: bytes("0") }],
  });
  const writers = await Promise.all(
    Array.from({ length: 24 }, (_, i) =>
      outcome(
        pick(i).putObjects({
          storeId: "s",
          transactionItems: [{ key: "hot", version: 1n, value: bytes(`w${i}`) }],
        }),
      ),
    ),
  );
  expect(writers.filter((r) => r === "ok")).toHaveLength(1);
  expect(writers.filter((r) => r === "CONFLICT_EXCEPTION")).toHaveLength(23);

  const creators = await Promise.all(
    Array.from({ length: 24 }, (_, i) =>
      outcome(
        pick(i).putObjects({
          storeId: "s",
          globalVersion: 0n,
          transactionItems: [{ key: `c${i}`, version: 0n, value: bytes("x") }],
        }),
      ),
    ),
  );
  expect(creators.filter((r) => r === "ok")).toHaveLength(1);
  const page = await pick(1).listKeyVersions({ storeId: "s" });
  expect(page.globalVersion).toBe(1n);
  expect(page.keyVersions).toHaveLength(2); // hot and the one creator that won
}

describe.skipIf(adminUrl === undefined)("scale-out on one PostgreSQL", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(adminUrl ?? "");
  });
  afterAll(() => db?.drop());

  it("keeps compare-and-set exact across several servers", async () => {
    const apps: App[] = await Promise.all(
      [0, 1, 2].map(() => startServer({ kind: "postgres", url: db.url, poolSize: 4 })),
    );
    try {
      const signer = createTestSigner();
      await checkAcrossServers(
        apps.map((app) => createBinaryClient(app.url, () => signer.header())),
      );
    } finally {
      await Promise.all(apps.map((app) => app.close()));
    }
  });

  it("runs VSS_WORKERS processes on one port, correct across them, and stops them all on SIGTERM", async () => {
    const server = await startServerProcess(
      { VSS_DATABASE_URL: db.url, VSS_WORKERS: "3" },
      { keepLogs: true },
    );
    try {
      const children = execFileSync("pgrep", ["-P", String(server.child.pid), "-f", "src/main.ts"])
        .toString()
        .trim()
        .split("\n");
      expect(children).toHaveLength(3);
      const signer = createTestSigner();
      await checkAcrossServers([createBinaryClient(server.url, () => signer.header())]);
    } finally {
      server.child.kill("SIGTERM");
      expect(await server.exited).toEqual({ code: 0, signal: null });
    }
    // The workers share one stdout: every line arrives whole (logLines parses
    // each one), and each of the 50 calls logged its line before its worker exited.
    expect(server.logLines().filter((line) => line["msg"] === "call")).toHaveLength(50);
  });
});

describe.skipIf(adminUrl === undefined || !havePgBouncer())(
  "behind pgbouncer in transaction pooling mode",
  () => {
    let db: TestDatabase;
    let bouncer: PgBouncer;
    beforeAll(async () => {
      db = await createTestDatabase(adminUrl ?? "");
      bouncer = await startPgBouncer(adminUrl ?? "");
    });
    afterAll(async () => {
      await bouncer?.stop();
      await db?.drop();
    });

    it("migrates, serves and keeps compare-and-set exact through the pooler", async () => {
      const url = bouncer.urlFor(new URL(db.url).pathname.slice(1));
      const database = {
        kind: "postgres" as const,
        url,
        poolSize: 8,
        preparedStatements: false,
        statementTimeoutMs: 0,
      };
      const apps = await Promise.all([0, 1].map(() => startServer(database)));
      try {
        const signer = createTestSigner();
        const clients = apps.map((app) => createBinaryClient(app.url, () => signer.header()));
        await checkAcrossServers(clients);
        // All or nothing through the pooler too.
        const first = clients[0] as BinaryClient;
        expect(
          await outcome(
            first.putObjects({
              storeId: "atomic",
              transactionItems: [
                { key: "a", version: 0n, value: bytes("a") },
                { key: "b", version: 5n, value: bytes("b") },
              ],
            }),
          ),
        ).toBe("CONFLICT_EXCEPTION");
        expect((await first.listKeyVersions({ storeId: "atomic" })).keyVersions).toEqual([]);
      } finally {
        await Promise.all(apps.map((app) => app.close()));
      }
    });
  },
);
