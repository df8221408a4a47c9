import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import type { ChallengeStore } from "../core/challenge-store.js";
import type { VssStore } from "../core/store.js";
import { migrateDatabase } from "./migrate.js";
import type { Quota } from "./quota.js";
import { vssUserUsage } from "./schema.js";
import { createSqlChallengeStore } from "./sql-challenge-store.js";
import { type AnyPgDatabase, createSqlStore } from "./sql-store.js";

/** Where the data lives. */
export type DatabaseConfig =
  | {
      readonly kind: "postgres";
      /** A postgres:// URL. */
      readonly url: string;
      /** Connections in the pool. */
      readonly poolSize: number;
      /** Give up connecting after this many seconds. */
      readonly connectTimeoutSecs?: number;
      /** PostgreSQL cancels a statement running longer than this; 0: not set here. */
      readonly statementTimeoutMs?: number;
      /** TLS to PostgreSQL, verifying its certificate (against `ca` when given). */
      readonly tls?: { readonly ca?: string };
      /** Named prepared statements (default); turn off behind pgbouncer in transaction mode. */
      readonly preparedStatements?: boolean;
      /** Create the database first, through `adminUrl`, if it does not exist. */
      readonly createDatabase?: { readonly adminUrl: string; readonly name: string };
    }
  | {
      readonly kind: "embedded";
      /** A directory for PGlite's files, or `memory://` for a store that is not kept. */
      readonly dataDir: string;
    };

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
export async function openDatabase(
  config: DatabaseConfig,
  options: { readonly quota?: Quota } = {},
): Promise<OpenedDatabase> {
  let connected: Connected;
  try {
    connected =
      config.kind === "postgres" ? await openPostgres(config) : await openEmbedded(config.dataDir);
  } catch (error) {
    // Startup failures are read by operators: say what the database said.
    let root: unknown = error;
    while (root instanceof Error && root.cause instanceof Error) root = root.cause;
    throw new Error(`cannot open the ${config.kind} database: ${(root as Error).message}`, {
      cause: error,
    });
  }
  const { db, close, poolSize, preparedStatements } = connected;
  if (options.quota === undefined) {
    // Usage is only kept up to date while quotas are on: forget it, so that
    // turning quotas on later counts afresh.
    await db.delete(vssUserUsage);
  }
  return {
    store: createSqlStore({ db, close, poolSize, preparedStatements, ...options }),
    challenges: createSqlChallengeStore(db),
  };
}

interface Connected {
  readonly db: AnyPgDatabase;
  readonly close: () => Promise<void>;
  readonly poolSize: number;
  readonly preparedStatements: boolean;
}

type PostgresConfig = Extract<DatabaseConfig, { kind: "postgres" }>;

async function openPostgres(config: PostgresConfig): Promise<Connected> {
  const common = {
    onnotice: () => {},
    connect_timeout: config.connectTimeoutSecs ?? 10,
    ...(config.tls === undefined
      ? {}
      : {
          ssl: {
            rejectUnauthorized: true,
            ...(config.tls.ca === undefined ? {} : { ca: config.tls.ca }),
          },
        }),
  };
  if (config.createDatabase !== undefined) await ensureDatabase(config.createDatabase, common);
  const timeout = config.statementTimeoutMs ?? 30_000;
  const client = postgres(config.url, {
    ...common,
    max: config.poolSize,
    // Named prepared statements need a session of their own: off behind a
    // pooler in transaction mode.
    prepare: config.preparedStatements ?? true,
    // A startup parameter costs no round trip; 0 sends none (poolers refuse it).
    ...(timeout > 0 ? { connection: { statement_timeout: timeout } } : {}),
  });
  const db = drizzlePostgres({ client });
  try {
    await migrateDatabase(db);
  } catch (error) {
    await client.end({ timeout: 5 });
    throw error;
  }
  return {
    db,
    close: () => client.end({ timeout: 5 }),
    poolSize: config.poolSize,
    preparedStatements: config.preparedStatements ?? true,
  };
}

/** Creates the database if it does not exist, as the reference server does. */
async function ensureDatabase(
  target: { adminUrl: string; name: string },
  options: postgres.Options<Record<string, never>>,
): Promise<void> {
  const admin = postgres(target.adminUrl, { ...options, max: 1 });
  try {
    const found = await admin`select 1 from pg_database where datname = ${target.name}`;
    if (found.length === 0) {
      try {
        await admin.unsafe(`create database "${target.name.replace(/"/g, '""')}"`);
      } catch (error) {
        // Another instance created it first.
        if ((error as { code?: string }).code !== "42P04") throw error;
      }
    }
  } finally {
    await admin.end({ timeout: 5 });
  }
}

async function openEmbedded(dataDir: string): Promise<Connected> {
  const inMemory = dataDir.startsWith("memory://");
  if (!inMemory) await mkdir(dataDir, { recursive: true });
  const client = await PGlite.create(inMemory ? undefined : dataDir);
  const db = drizzlePglite({ client });
  try {
    await migrateDatabase(db);
  } catch (error) {
    await client.close();
    throw error;
  }
  // PGlite is one connection: operations queue behind each other.
  return { db, close: () => client.close(), poolSize: 1, preparedStatements: true };
}
