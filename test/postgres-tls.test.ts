import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { createBinaryClient } from "./support/binary-client.js";
import {
  type PostgresCluster,
  postgresBinForTests,
  startPostgresCluster,
} from "./support/postgres-cluster.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";

const bin = postgresBinForTests();

describe.skipIf(bin === undefined)("TLS to PostgreSQL", () => {
  let dir: string;
  let cluster: PostgresCluster;
  let ca: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "vss-pgtls-"));
    // A self-signed certificate for the database, made here and now.
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ],
      { stdio: "pipe" },
    );
    ca = await readFile(join(dir, "cert.pem"), "utf8");
    cluster = await startPostgresCluster(bin ?? "", {
      ssl: { cert: ca, key: await readFile(join(dir, "key.pem"), "utf8") },
    });
  });
  afterAll(async () => {
    cluster?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it("connects with TLS, verifying the server against VSS_PSQL_CRT_PEM", async () => {
    const config = loadConfig({
      VSS_DATABASE_URL: cluster.url,
      VSS_PSQL_CRT_PEM: join(dir, "cert.pem"),
    });
    const app = await startServer(config.database);
    try {
      const signer = createTestSigner();
      await createBinaryClient(app.url, () => signer.header()).putObjects({
        storeId: "s",
        transactionItems: [{ key: "k", version: 0n, value: new Uint8Array([1]) }],
      });
      const postgres = (await import("postgres")).default;
      const sql = postgres(cluster.url, {
        max: 1,
        ssl: { ca, rejectUnauthorized: true },
        onnotice: () => {},
      });
      const sessions =
        await sql`select count(*)::int as n from pg_stat_ssl where ssl and pid <> pg_backend_pid()`;
      await sql.end();
      expect(sessions[0]?.["n"]).toBeGreaterThan(0);
    } finally {
      await app.close();
    }
  });

  it("refuses to start when TLS is required and the server's certificate is not trusted", async () => {
    const config = loadConfig({ VSS_DATABASE_URL: cluster.url, VSS_PSQL_TLS: "true" });
    await expect(startServer(config.database)).rejects.toThrow(/self[- ]signed|certificate/i);
  });
});
