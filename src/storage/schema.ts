import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  check,
  customType,
  index,
  pgTable,
  primaryKey,
  timestamp,
  varchar,
} from "drizzle-orm/pg-core";

const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => "bytea",
});

/**
 * The table of the reference VSS servers, column for column, so this server
 * can take over a database they created. Rows with key `global_version` hold
 * each store's global version. `sort_order` orders keys by creation.
 */
export const vssDb = pgTable(
  "vss_db",
  {
    userToken: varchar("user_token", { length: 120 }).notNull(),
    storeId: varchar("store_id", { length: 120 }).notNull(),
    key: varchar("key", { length: 600 }).notNull(),
    value: bytea("value"),
    version: bigint("version", { mode: "bigint" }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }),
    lastUpdatedAt: timestamp("last_updated_at", { withTimezone: true }),
    sortOrder: bigserial("sort_order", { mode: "bigint" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.userToken, t.storeId, t.key] }),
    // ListKeyVersions walks this index backwards (newest first): a page costs
    // the same whatever the store's size.
    index("vss_db_list_idx").on(t.userToken, t.storeId, t.sortOrder),
    // As in the reference layout. store_id has no such check: the empty
    // store_id is a valid store (reference databases refuse it; see README).
    check("vss_db_user_token_check", sql`${t.userToken} <> ''`),
  ],
);

/**
 * Open LNURL-auth challenges. A row is deleted when its challenge is used, so
 * each k1 logs in at most once; expired rows are swept as new ones are issued.
 */
export const vssLnurlChallenges = pgTable(
  "vss_lnurl_challenges",
  {
    k1: varchar("k1", { length: 64 }).primaryKey(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [index("vss_lnurl_challenges_expires_at_idx").on(t.expiresAt)],
);

/**
 * Storage used per identity (key and value bytes, and keys, across all its
 * stores, global versions not counted), kept only while quotas are enforced.
 * A missing row means "not counted yet": it is computed from vss_db on the
 * identity's next write.
 */
export const vssUserUsage = pgTable("vss_user_usage", {
  userToken: varchar("user_token", { length: 120 }).primaryKey(),
  bytes: bigint("bytes", { mode: "number" }).notNull(),
  keys: bigint("keys", { mode: "number" }).notNull(),
});
