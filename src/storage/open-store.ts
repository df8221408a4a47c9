import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import type { ChallengeStore } from "../core/challenge-store.js";
import type { VssStore } from "../core/store.js";
import { createSqlChallengeStore } from "./sql-challenge-store.js";
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

/** The stores of one database. */
export interface OpenedDatabase {
  /** The VSS data; closing it closes the database. */
  readonly store: VssStore;
  /** LNURL-auth challenges. */
  readonly challenges: ChallengeStore;
}

/**
 * Opens the database `config` names and brings its schema up to date with the
 * committed migrations in drizzle/. Both kinds run the same migrations and the
 * same queries.
 */
export async function openDatabase(config: DatabaseConfig): Promise<OpenedDatabase> {
  return config.kind === "postgres" ? openPostgres(config) : openEmbedded(config.dataDir);
}

async function openPostgres(config: { url: string; poolSize: number }): Promise<OpenedDatabase> {
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
  const db = drizzlePostgres({ client });
  return {
    store: createSqlStore({ db, close: () => client.end({ timeout: 5 }) }),
    challenges: createSqlChallengeStore(db),
  };
}

async function openEmbedded(dataDir: string): Promise<OpenedDatabase> {
  const inMemory = dataDir.startsWith("memory://");
  if (!inMemory) await mkdir(dataDir, { recursive: true });
  const client = await PGlite.create(inMemory ? undefined : dataDir);
  const db = drizzlePglite({ client });
  await migratePglite(db, { migrationsFolder: MIGRATIONS_FOLDER });
  return {
    store: createSqlStore({ db, close: () => client.close() }),
    challenges: createSqlChallengeStore(db),
  };
}
