import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../gen/vss/vss_pb.js";
import type { DatabaseConfig } from "../src/storage/open-store.js";
import { BinaryCallError, createBinaryClient } from "./support/binary-client.js";
import { createTestDatabase, postgresAdminUrl } from "./support/databases.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";

// The layout the reference servers create (their migrations, in order).
const REFERENCE_TABLES = `
  CREATE TABLE vss_db_version (db_version INTEGER);
  INSERT INTO vss_db_version VALUES(1);
  CREATE TABLE vss_db_upgrades (upgrade_from INTEGER);
  INSERT INTO vss_db_upgrades VALUES(0);
  CREATE TABLE IF NOT EXISTS vss_db (
    user_token character varying(120) NOT NULL CHECK (user_token <> ''),
    store_id character varying(120) NOT NULL CHECK (store_id <> ''),
    key character varying(600) NOT NULL,
    value bytea NULL,
    version bigint NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE,
    last_updated_at TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (user_token, store_id, key)
  );`;
const WITH_SORT_ORDER = "ALTER TABLE vss_db ADD COLUMN sort_order BIGSERIAL;";

const rowsFor = (user: string) => `
  INSERT INTO vss_db (user_token, store_id, key, value, version, created_at, last_updated_at) VALUES
    ('${user}', 'wallet', 'older', '\\x6f6c64', 3, now(), now()),
    ('${user}', 'wallet', 'newer', '\\x6e6577', 1, now(), now()),
    ('${user}', 'wallet', 'global_version', NULL, 7, now(), now()),
    ('someone-else', 'wallet', 'older', '\\x00', 1, now(), now());`;

interface Target {
  name: string;
  /** Runs `sql` on a new database, then gives the config to start on it. */
  prepare(
    sql: string,
  ): Promise<{ database: DatabaseConfig; query: (q: string) => Promise<unknown[]> }>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const targets: Target[] = [
  {
    name: "embedded PGlite",
    prepare: async (sql) => {
      const dir = await mkdtemp(join(tmpdir(), "vss-ref-"));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const db = await PGlite.create(dir);
      await db.exec(sql);
      await db.close();
      return {
        database: { kind: "embedded", dataDir: dir },
        query: async (q) => {
          const reader = await PGlite.create(dir);
          try {
            return (await reader.query(q)).rows;
          } finally {
            await reader.close();
          }
        },
      };
    },
  },
];
const adminUrl = postgresAdminUrl();
if (adminUrl !== undefined) {
  targets.push({
    name: "PostgreSQL",
    prepare: async (sql) => {
      const db = await createTestDatabase(adminUrl);
      cleanups.push(() => db.drop());
      const client = postgres(db.url, { max: 1, onnotice: () => {} });
      try {
        await client.unsafe(sql);
      } finally {
        await client.end();
      }
      return {
        database: { kind: "postgres", url: db.url, poolSize: 4 },
        query: async (q) => {
          const c = postgres(db.url, { max: 1, onnotice: () => {} });
          try {
            return [...(await c.unsafe(q))];
          } finally {
            await c.end();
          }
        },
      };
    },
  });
}

describe.each(targets)("a database laid out by a reference server, on $name", (target) => {
  for (const variant of [
    { name: "without sort_order", extra: "" },
    { name: "with sort_order", extra: WITH_SORT_ORDER },
  ]) {
    it(`keeps every row when the server first starts on it (${variant.name})`, async () => {
      const signer = createTestSigner();
      const { database, query } = await target.prepare(
        `${REFERENCE_TABLES}${variant.extra}${rowsFor(signer.publicKeyHex)}`,
      );
      const app = await startServer(database);
      try {
        const client = createBinaryClient(app.url, () => signer.header());
        const older = await client.getObject({ storeId: "wallet", key: "older" });
        expect(older.value?.version).toBe(3n);
        expect(new TextDecoder().decode(older.value?.value)).toBe("old");
        expect(
          (await client.getObject({ storeId: "wallet", key: "global_version" })).value?.version,
        ).toBe(7n);
        const page = await client.listKeyVersions({ storeId: "wallet" });
        expect(page.globalVersion).toBe(7n);
        expect(page.keyVersions.map((k) => k.key).sort()).toEqual(["newer", "older"]);

        // The reference's compare-and-set state carries on.
        await client.putObjects({
          storeId: "wallet",
          globalVersion: 7n,
          transactionItems: [{ key: "older", version: 3n, value: new Uint8Array([1]) }],
        });
        expect((await client.getObject({ storeId: "wallet", key: "older" })).value?.version).toBe(
          4n,
        );

        // Its table refuses the empty store_id: a clear INVALID_REQUEST, never a 500.
        const refused = await client
          .putObjects({
            storeId: "",
            transactionItems: [{ key: "k", version: 0n, value: new Uint8Array(0) }],
          })
          .then(
            () => undefined,
            (error: unknown) => error,
          );
        expect(refused).toBeInstanceOf(BinaryCallError);
        expect((refused as BinaryCallError).errorCode).toBe(ErrorCode.INVALID_REQUEST_EXCEPTION);
      } finally {
        await app.close();
      }
      expect(await query("select db_version from vss_db_version")).toEqual([{ db_version: 1 }]);
      expect(await query("select upgrade_from from vss_db_upgrades")).toEqual([
        { upgrade_from: 0 },
      ]);
      expect(
        await query("select count(*)::int as n from vss_db where user_token = 'someone-else'"),
      ).toEqual([{ n: 1 }]);
    });
  }

  it("starts again on a database it migrated itself, changing nothing", async () => {
    const signer = createTestSigner();
    const { database } = await target.prepare(`${REFERENCE_TABLES}${rowsFor(signer.publicKeyHex)}`);
    for (let run = 0; run < 2; run++) {
      const app = await startServer(database);
      try {
        const client = createBinaryClient(app.url, () => signer.header());
        expect((await client.getObject({ storeId: "wallet", key: "older" })).value?.version).toBe(
          3n,
        );
      } finally {
        await app.close();
      }
    }
  });
});
