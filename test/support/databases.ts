import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { inject } from "vitest";
import type { DatabaseConfig } from "../../src/storage/open-store.js";

/** The admin URL of the suite's PostgreSQL, or undefined when it is skipped. */
export function postgresAdminUrl(): string | undefined {
  const url = inject("postgresUrl");
  return url === "" ? undefined : url;
}

/** A database of its own for one test file, dropped by `drop`. */
export interface TestDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/** Creates an empty database on the suite's PostgreSQL. */
export async function createTestDatabase(adminUrl: string): Promise<TestDatabase> {
  const name = `vss_test_${randomBytes(6).toString("hex")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await client.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A kind of store the contract suite runs against. */
export interface StoreTarget {
  readonly name: string;
  /** A fresh, empty database of this kind. */
  open(): Promise<{ database: DatabaseConfig; cleanup: () => Promise<void> }>;
}

/** Every store available here: the embedded one always, PostgreSQL when present. */
export function storeTargets(): StoreTarget[] {
  const targets: StoreTarget[] = [
    {
      name: "embedded PGlite",
      open: async () => ({
        database: { kind: "embedded", dataDir: "memory://" },
        cleanup: async () => {},
      }),
    },
  ];
  const adminUrl = postgresAdminUrl();
  if (adminUrl !== undefined) {
    targets.push({
      name: "PostgreSQL",
      open: async () => {
        const db = await createTestDatabase(adminUrl);
        return {
          database: { kind: "postgres", url: db.url, poolSize: 10 },
          cleanup: () => db.drop(),
        };
      },
    });
  }
  return targets;
}
