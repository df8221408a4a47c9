import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import type { VssStore } from "../core/store.js";
import { createSqlStore } from "./sql-store.js";

/** Where the data lives. */
export type DatabaseConfig =
  | {
      readonly kind: "postgres";
      /** A postgres:// URL. */
      readonly url: string;
      /** Connections in the pool. */
      readonly poolSize: number;
    }
  | {
      readonly kind: "embedded";
      /** A directory for PGlite's files, or `memory://` for a store that is not kept. */
      readonly dataDir: string;
    };

const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../drizzle", import.meta.url));
// Serialises migrations of several instances starting at once ("VSS" + 1).
const MIGRATION_LOCK_ID = 0x56535301;

/**
 * Opens the store `config` names and brings its schema up to date with the
 * committed migrations in drizzle/. Both kinds run the same migrations and the
 * same queries.
 */
export async function openStore(config: DatabaseConfig): Promise<VssStore> {
  return config.kind === "postgres" ? openPostgres(config) : openEmbedded(config.dataDir);
}

async function openPostgres(config: { url: string; poolSize: number }): Promise<VssStore> {
  const quiet = { onnotice: () => {}, connect_timeout: 10 } as const;
  // One connection holds the advisory lock for the whole migration; ending it
  // releases the lock even if this process dies.
  const migrator = postgres(config.url, { ...quiet, max: 1 });
  try {
    const db = drizzlePostgres({ client: migrator });
    await db.execute(sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`);
    await migratePostgres(db, { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await migrator.end({ timeout: 5 });
  }
  const client = postgres(config.url, { ...quiet, max: config.poolSize });
  return createSqlStore({
    db: drizzlePostgres({ client }),
    close: () => client.end({ timeout: 5 }),
  });
}

async function openEmbedded(dataDir: string): Promise<VssStore> {
  const inMemory = dataDir.startsWith("memory://");
  if (!inMemory) await mkdir(dataDir, { recursive: true });
  const client = await PGlite.create(inMemory ? undefined : dataDir);
  const db = drizzlePglite({ client });
  await migratePglite(db, { migrationsFolder: MIGRATIONS_FOLDER });
  return createSqlStore({ db, close: () => client.close() });
}
