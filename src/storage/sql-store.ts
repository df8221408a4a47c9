import { and, eq, type SQL, sql } from "drizzle-orm";
import { type PgDatabase, PgDialect, type PgQueryResultHKT } from "drizzle-orm/pg-core";
import { conflict } from "../core/errors.js";
import {
  type DeleteItem,
  GLOBAL_VERSION_KEY,
  type ListQuery,
  type ListResult,
  type PutBatch,
  type Scope,
  type StoredObject,
  type VssStore,
} from "../core/store.js";
import { isRetryableTransactionError, toVssError } from "./db-errors.js";
import { checkQuota, lockUsage, type Quota, saveUsage, sizeOfRow, usageDelta } from "./quota.js";
import { vssDb } from "./schema.js";

/** Any Drizzle PostgreSQL database: postgres.js and PGlite alike. */
// biome-ignore lint/suspicious/noExplicitAny: both drivers' databases must fit.
export type AnyPgDatabase = PgDatabase<PgQueryResultHKT, any, any>;

/** Options of {@link createSqlStore}. */
export interface SqlStoreOptions {
  readonly db: AnyPgDatabase;
  /** Releases the driver's connections. */
  readonly close: () => Promise<void>;
  /** Connections the driver may open. */
  readonly poolSize: number;
  /** Attempts for a transaction that hit a deadlock or serialization failure. */
  readonly maxAttempts?: number;
  /** Per-identity storage limits; none: usage is not tracked. */
  readonly quota?: Quota;
  /** Keep hot queries as server-side prepared statements (not behind pgbouncer in transaction mode). */
  readonly preparedStatements?: boolean;
}

const EMPTY = new Uint8Array(0);
const dialect = new PgDialect();

/**
 * The VSS store on PostgreSQL through Drizzle: the same queries on a real
 * PostgreSQL (postgres.js) and on the embedded PGlite. A PutObjects is one
 * statement whose parts each check their own versions; the transaction around
 * it commits only if every part applied, so a put is all or nothing.
 */
export function createSqlStore({
  db,
  close,
  poolSize,
  maxAttempts = 3,
  quota,
  preparedStatements = true,
}: SqlStoreOptions): VssStore {
  let inFlight = 0;
  const run = async <T>(work: () => Promise<T>): Promise<T> => {
    inFlight++;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await work();
        } catch (error) {
          if (attempt < maxAttempts && isRetryableTransactionError(error)) continue;
          throw toVssError(error);
        }
      }
    } finally {
      inFlight--;
    }
  };
  const inScope = (scope: Scope) =>
    and(eq(vssDb.userToken, scope.userToken), eq(vssDb.storeId, scope.storeId));
  // Built once. A name makes the driver keep it as a server-side prepared
  // statement too, which a pooler in transaction mode cannot: then unnamed.
  const getQuery = db
    .select({ key: vssDb.key, value: vssDb.value, version: vssDb.version })
    .from(vssDb)
    .where(
      and(
        eq(vssDb.userToken, sql.placeholder("u")),
        eq(vssDb.storeId, sql.placeholder("s")),
        eq(vssDb.key, sql.placeholder("k")),
      ),
    );
  const getObject = getQuery.prepare(
    preparedStatements ? "vss_get_object" : (undefined as unknown as string),
  );
  /** Runs a statement built at call time, prepared server-side when allowed. */
  const execute = (executor: AnyPgDatabase, query: SQL) =>
    executor._.session
      .prepareQuery(
        dialect.sqlToQuery(query),
        undefined,
        preparedStatements ? "vss_statement" : undefined,
        false,
      )
      .execute();

  return {
    get: (scope, key) =>
      run(async (): Promise<StoredObject | undefined> => {
        const rows = await getObject.execute({ u: scope.userToken, s: scope.storeId, k: key });
        const row = rows[0];
        return row === undefined ? undefined : { ...row, value: row.value ?? EMPTY };
      }),

    getGlobalVersion: (scope) =>
      run(async () => {
        const rows = await getObject.execute({
          u: scope.userToken,
          s: scope.storeId,
          k: GLOBAL_VERSION_KEY,
        });
        return rows[0]?.version ?? 0n;
      }),

    put: (scope, batch) => {
      const statement = putStatement(scope, batch);
      if (statement === undefined) return Promise.resolve();
      const check = async (executor: AnyPgDatabase) => {
        const rows = rowsOf(await execute(executor, statement.query));
        if (Number(rows[0]?.["applied"]) !== statement.expected) {
          throw conflict(
            "version mismatch: a key's version, a delete item or the global version did not match",
          );
        }
      };
      if (quota !== undefined) {
        // Usage is locked per identity, checked, and updated with the write.
        return run(() =>
          db.transaction(async (tx) => {
            const usage = await lockUsage(tx, scope.userToken);
            const delta = await usageDelta(tx, scope, batch);
            checkQuota(quota, usage, delta);
            await check(tx);
            if (delta.bytes !== 0 || delta.keys !== 0) {
              await saveUsage(tx, scope.userToken, {
                bytes: usage.bytes + delta.bytes,
                keys: usage.keys + delta.keys,
              });
            }
          }),
        );
      }
      // One part touches one row: the statement alone is atomic. Otherwise the
      // transaction undoes the parts that applied when another did not.
      return run(() => (statement.expected === 1 ? check(db) : db.transaction(check)));
    },

    delete: (scope, item: DeleteItem) => {
      const versionMatches = item.version === -1n ? undefined : eq(vssDb.version, item.version);
      const remove = (executor: Pick<AnyPgDatabase, "delete">) =>
        executor
          .delete(vssDb)
          .where(and(inScope(scope), eq(vssDb.key, item.key), versionMatches))
          .returning({ size: sizeOfRow });
      if (quota === undefined) return run(async () => (await remove(db)).length > 0);
      return run(() =>
        db.transaction(async (tx) => {
          const usage = await lockUsage(tx, scope.userToken);
          const [deleted] = await remove(tx);
          if (deleted === undefined) return false;
          await saveUsage(tx, scope.userToken, {
            bytes: usage.bytes - Number(deleted.size),
            keys: usage.keys - 1,
          });
          return true;
        }),
      );
    },

    list: (scope, query) =>
      run(async () => listResult(rowsOf(await execute(db, listQuery(scope, query))), query)),

    ping: () =>
      run(async () => {
        await db.execute(sql`select 1`);
      }),

    stats: () => ({ poolSize, inFlight }),

    close,
  };
}

interface PutStatement {
  readonly query: SQL;
  /** Rows the statement changes when every check passes. */
  readonly expected: number;
}

/**
 * One statement for a whole PutObjects: a data-modifying CTE per kind of part,
 * each matching versions itself, and the count of rows they changed. The
 * parts touch distinct rows (the service refused duplicate keys), so they
 * cannot see or disturb each other within the statement.
 */
function putStatement(scope: Scope, batch: PutBatch): PutStatement | undefined {
  const { userToken: u, storeId: s } = scope;
  const parts: [name: string, query: SQL][] = [];
  // Sorted keys: concurrent puts lock rows in the same order, avoiding deadlocks.
  const byKey = <T extends { key: string }>(xs: readonly T[]) =>
    [...xs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const items = byKey(batch.items);
  const creates = items.filter((i) => i.version === 0n);
  const upserts = items.filter((i) => i.version === -1n);
  const updates = items.filter((i) => i.version > 0n);
  const deletes = byKey(batch.deletes);

  if (batch.globalVersion !== undefined) {
    const g = batch.globalVersion.toString();
    parts.push([
      "gv",
      batch.globalVersion === 0n
        ? // 0 means "never set": create the row, or bump one that holds 0.
          sql`
      insert into vss_db (user_token, store_id, key, value, version, created_at, last_updated_at)
      values (${u}, ${s}, ${GLOBAL_VERSION_KEY}, ''::bytea, 1, now(), now())
      on conflict (user_token, store_id, key) do update
        set version = vss_db.version + 1, last_updated_at = now()
        where vss_db.version = 0
      returning 1`
        : sql`
      update vss_db set version = version + 1, last_updated_at = now()
      where user_token = ${u} and store_id = ${s} and key = ${GLOBAL_VERSION_KEY}
        and version = ${g}::bigint
      returning 1`,
    ]);
  }
  if (deletes.length > 0) {
    const rows = sql.join(
      deletes.map((d) => sql`(${d.key}::text, ${d.version.toString()}::bigint)`),
      sql`, `,
    );
    parts.push([
      "del",
      sql`
      delete from vss_db using (values ${rows}) as d(k, n)
      where vss_db.user_token = ${u} and vss_db.store_id = ${s} and vss_db.key = d.k
        and (d.n = -1 or vss_db.version = d.n)
      returning 1`,
    ]);
  }
  if (updates.length > 0) {
    const rows = sql.join(
      updates.map((i) => sql`(${i.key}::text, ${i.value}::bytea, ${i.version.toString()}::bigint)`),
      sql`, `,
    );
    parts.push([
      "upd",
      sql`
      update vss_db set value = i.v, version = vss_db.version + 1, last_updated_at = now()
      from (values ${rows}) as i(k, v, n)
      where vss_db.user_token = ${u} and vss_db.store_id = ${s} and vss_db.key = i.k
        and vss_db.version = i.n
      returning 1`,
    ]);
  }
  // New rows start at version 1; what happens to an existing key differs.
  const insert = (xs: readonly { key: string; value: Uint8Array }[], onConflict: SQL) => {
    const rows = sql.join(
      xs.map((i) => sql`(${i.key}::text, ${i.value}::bytea)`),
      sql`, `,
    );
    return sql`
      insert into vss_db (user_token, store_id, key, value, version, created_at, last_updated_at)
      select ${u}, ${s}, i.k, i.v, 1, now(), now() from (values ${rows}) as i(k, v)
      on conflict (user_token, store_id, key) ${onConflict}
      returning 1`;
  };
  if (creates.length > 0) parts.push(["ins", insert(creates, sql`do nothing`)]);
  if (upserts.length > 0) {
    // An upsert resets the version to 1 and keeps the key's creation order.
    parts.push([
      "ups",
      insert(
        upserts,
        sql`do update set value = excluded.value, version = 1, last_updated_at = now()`,
      ),
    ]);
  }
  if (parts.length === 0) return undefined;
  const ctes = sql.join(
    parts.map(([name, query]) => sql`${sql.raw(name)} as (${query})`),
    sql`, `,
  );
  const sum = sql.raw(parts.map(([name]) => `(select count(*) from ${name})`).join(" + "));
  return {
    query: sql`with ${ctes} select (${sum})::int as applied`,
    expected:
      (batch.globalVersion === undefined ? 0 : 1) + batch.items.length + batch.deletes.length,
  };
}

/** One statement, one snapshot: the global version and the keys agree. */
function listQuery(scope: Scope, query: ListQuery): SQL {
  const { userToken: u, storeId: s } = scope;
  const conditions = [
    sql`user_token = ${u}`,
    sql`store_id = ${s}`,
    sql`key <> ${GLOBAL_VERSION_KEY}`,
  ];
  if (query.before !== undefined) {
    conditions.push(sql`sort_order < ${query.before.toString()}::bigint`);
  }
  // starts_with compares literally: %, _ and \ are ordinary characters.
  if (query.prefix !== "") conditions.push(sql`starts_with(key, ${query.prefix}::text)`);
  const globalVersion = query.withGlobalVersion
    ? sql`(select version from vss_db where user_token = ${u} and store_id = ${s} and key = ${GLOBAL_VERSION_KEY})`
    : sql`null::bigint`;
  return sql`
      select g.gv::text as gv, k.key, k.version::text as version, k.sort_order::text as pos
      from (select ${globalVersion} as gv) as g
      left join lateral (
        select key, version, sort_order from vss_db
        where ${sql.join(conditions, sql` and `)}
        order by sort_order desc
        limit ${query.limit}
      ) as k on true
      order by k.sort_order desc`;
}

function listResult(rows: Row[], query: ListQuery): ListResult {
  const keys = rows
    .filter((r) => r["key"] !== null && r["key"] !== undefined)
    .map((r) => ({
      key: String(r["key"]),
      version: BigInt(String(r["version"])),
      position: BigInt(String(r["pos"])),
    }));
  const gv = rows[0]?.["gv"];
  return query.withGlobalVersion
    ? { keys, globalVersion: gv === null || gv === undefined ? 0n : BigInt(String(gv)) }
    : { keys };
}

type Row = Record<string, unknown>;

/** postgres.js returns an array of rows, PGlite an object with `rows`. */
function rowsOf(result: unknown): Row[] {
  if (Array.isArray(result)) return result as Row[];
  const rows = (result as { rows?: unknown }).rows;
  return Array.isArray(rows) ? (rows as Row[]) : [];
}
