import { and, eq, inArray, ne, sql } from "drizzle-orm";
import { VssError } from "../core/errors.js";
import { GLOBAL_VERSION_KEY, type PutBatch, type Scope } from "../core/store.js";
import { vssDb, vssUserUsage } from "./schema.js";
import type { AnyPgDatabase } from "./sql-store.js";

/** Per-identity storage limits. 0 turns a limit off. */
export interface Quota {
  /** Bytes of keys and values. */
  readonly bytes: number;
  readonly keys: number;
}

/** A transaction (or the database) to run statements in. */
type Executor = Pick<AnyPgDatabase, "select" | "insert" | "update" | "execute">;

/** Bytes a row counts for: its key and its value. */
export const sizeOfRow = sql<number>`(octet_length(${vssDb.key}) + coalesce(octet_length(${vssDb.value}), 0))::int`;

/**
 * Locks the identity's usage row for the rest of the transaction, creating it
 * from vss_db first if it is missing. Every write of an identity takes this
 * lock while quotas are on, so sizes read afterwards are exact.
 */
export async function lockUsage(
  tx: Executor,
  userToken: string,
): Promise<{ bytes: number; keys: number }> {
  const locked = () =>
    tx
      .select({ bytes: vssUserUsage.bytes, keys: vssUserUsage.keys })
      .from(vssUserUsage)
      .where(eq(vssUserUsage.userToken, userToken))
      .for("update");
  const existing = (await locked())[0];
  if (existing !== undefined) return existing;
  const [counted] = await tx
    .select({
      bytes: sql<string>`coalesce(sum(${sizeOfRow}), 0)::text`,
      keys: sql<string>`count(*)::text`,
    })
    .from(vssDb)
    .where(and(eq(vssDb.userToken, userToken), ne(vssDb.key, GLOBAL_VERSION_KEY)));
  await tx
    .insert(vssUserUsage)
    .values({ userToken, bytes: Number(counted?.bytes ?? 0), keys: Number(counted?.keys ?? 0) })
    .onConflictDoNothing();
  const created = (await locked())[0];
  if (created === undefined) throw new Error("usage row vanished");
  return created;
}

/** Sizes of the given keys that exist now. */
async function sizesOf(
  tx: Executor,
  scope: Scope,
  keys: readonly string[],
): Promise<Map<string, number>> {
  if (keys.length === 0) return new Map();
  const rows = await tx
    .select({ key: vssDb.key, size: sizeOfRow })
    .from(vssDb)
    .where(
      and(
        eq(vssDb.userToken, scope.userToken),
        eq(vssDb.storeId, scope.storeId),
        inArray(vssDb.key, [...keys]),
      ),
    );
  return new Map(rows.map((r) => [r.key, Number(r.size)]));
}

/** The change a batch makes to usage if it applies. */
export async function usageDelta(
  tx: Executor,
  scope: Scope,
  batch: PutBatch,
): Promise<{ bytes: number; keys: number }> {
  const before = await sizesOf(tx, scope, [
    ...batch.items.map((i) => i.key),
    ...batch.deletes.map((d) => d.key),
  ]);
  let bytes = 0;
  let keys = 0;
  const encoder = new TextEncoder();
  for (const item of batch.items) {
    const old = before.get(item.key);
    bytes += encoder.encode(item.key).length + item.value.length - (old ?? 0);
    if (old === undefined) keys++;
  }
  for (const d of batch.deletes) {
    const old = before.get(d.key);
    if (old !== undefined) {
      bytes -= old;
      keys--;
    }
  }
  return { bytes, keys };
}

/** Refuses growth past the quota; shrinking is always allowed. */
export function checkQuota(
  quota: Quota,
  usage: { bytes: number; keys: number },
  delta: { bytes: number; keys: number },
): void {
  if (quota.bytes > 0 && delta.bytes > 0 && usage.bytes + delta.bytes > quota.bytes) {
    throw new VssError(
      "invalid_request",
      `storage quota exceeded: ${usage.bytes + delta.bytes} bytes would pass the limit of ${quota.bytes}`,
      { reason: "quota_exceeded" },
    );
  }
  if (quota.keys > 0 && delta.keys > 0 && usage.keys + delta.keys > quota.keys) {
    throw new VssError(
      "invalid_request",
      `storage quota exceeded: ${usage.keys + delta.keys} keys would pass the limit of ${quota.keys}`,
      { reason: "quota_exceeded" },
    );
  }
}

/** Records the usage after a write. */
export async function saveUsage(
  tx: Executor,
  userToken: string,
  usage: { bytes: number; keys: number },
): Promise<void> {
  await tx.update(vssUserUsage).set(usage).where(eq(vssUserUsage.userToken, userToken));
}
