import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import type { AnyPgDatabase } from "./sql-store.js";

const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../drizzle", import.meta.url));
// Serialises migrations of several instances starting at once ("VSS" + 1).
const MIGRATION_LOCK_ID = 0x56535301;

/**
 * Applies the committed migrations of drizzle/ that the database lacks, in
 * Drizzle's own bookkeeping table (drizzle.__drizzle_migrations), so
 * drizzle-kit sees the same history. Unlike Drizzle's migrator, everything runs
 * in one transaction under a transaction-level advisory lock: instances
 * starting at once wait for each other, and it works through a pooler in
 * transaction mode (pgbouncer), where session state does not survive.
 */
export async function migrateDatabase(db: AnyPgDatabase): Promise<void> {
  const migrations = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`);
    // Indexing a large existing table may take a while: no statement timeout here.
    await tx.execute(sql`set local statement_timeout = 0`);
    await tx.execute(sql`create schema if not exists drizzle`);
    await tx.execute(sql`
      create table if not exists drizzle.__drizzle_migrations (
        id serial primary key,
        hash text not null,
        created_at bigint
      )`);
    const result = await tx.execute(
      sql`select created_at::text as created_at from drizzle.__drizzle_migrations order by created_at desc limit 1`,
    );
    const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as {
      created_at: string | null;
    }[];
    const last = rows[0]?.created_at;
    for (const migration of migrations) {
      if (last !== undefined && last !== null && Number(last) >= migration.folderMillis) continue;
      for (const statement of migration.sql) await tx.execute(sql.raw(statement));
      await tx.execute(
        sql`insert into drizzle.__drizzle_migrations (hash, created_at) values (${migration.hash}, ${migration.folderMillis})`,
      );
    }
  });
}
