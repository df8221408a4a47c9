import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BinaryCallError, createBinaryClient } from "./support/binary-client.js";
import { createTestDatabase, postgresAdminUrl, type TestDatabase } from "./support/databases.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServerProcess } from "./support/server-process.js";

const bytes = (s: string) => new TextEncoder().encode(s);
const ITEMS_PER_PUT = 5;

interface Target {
  name: string;
  env(): Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }>;
}

const targets: Target[] = [
  {
    name: "the embedded store",
    env: async () => {
      const dir = await mkdtemp(join(tmpdir(), "vss-proc-"));
      return {
        env: { VSS_DATA_DIR: dir },
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
];
const adminUrl = postgresAdminUrl();
if (adminUrl !== undefined) {
  targets.push({
    name: "PostgreSQL",
    env: async () => {
      const db: TestDatabase = await createTestDatabase(adminUrl);
      return { env: { VSS_DATABASE_URL: db.url }, cleanup: () => db.drop() };
    },
  });
}

describe.each(targets)("the server process on $name", (target) => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ env, cleanup } = await target.env());
  });
  afterAll(() => cleanup?.());

  it("exits 0 on SIGTERM and keeps what it acknowledged", async () => {
    const signer = createTestSigner();
    const first = await startServerProcess(env);
    const c1 = createBinaryClient(first.url, () => signer.header());
    await c1.putObjects({
      storeId: "w",
      globalVersion: 0n,
      transactionItems: [{ key: "a", version: 0n, value: bytes("1") }],
    });
    first.child.kill("SIGTERM");
    expect(await first.exited).toEqual({ code: 0, signal: null });

    const second = await startServerProcess(env);
    try {
      const c2 = createBinaryClient(second.url, () => signer.header());
      expect((await c2.getObject({ storeId: "w", key: "a" })).value?.version).toBe(1n);
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  });

  it("logs one line per call within about a second, and every line by the time it exits", async () => {
    const signer = createTestSigner();
    const server = await startServerProcess(env, { keepLogs: true });
    const client = createBinaryClient(server.url, () => signer.header());
    const calls = () => server.logLines().filter((line) => line["msg"] === "call");
    try {
      await client.putObjects({
        storeId: "logs",
        transactionItems: [{ key: "a", version: -1n, value: bytes("1") }],
      });
      // Log writes are batched; the periodic flush still gets a quiet call out.
      await expect.poll(() => calls().length, { timeout: 5_000, interval: 100 }).toBe(1);
      for (let i = 0; i < 200; i++) await client.getObject({ storeId: "logs", key: "a" });
    } finally {
      server.child.kill("SIGTERM");
    }
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(calls()).toHaveLength(201);
    expect(calls().every((line) => line["outcome"] === "ok")).toBe(true);
  });

  it("after SIGKILL under load, has every acknowledged put and no partial one", async () => {
    const signer = createTestSigner();
    const server = await startServerProcess(env);
    const client = createBinaryClient(server.url, () => signer.header());
    const attempted = new Set<string>();
    const acknowledged = new Set<string>();
    let killed = false;
    const writer = async (w: number) => {
      for (let b = 0; b < 2000 && !killed; b++) {
        const batch = `w${w}-b${b}`;
        attempted.add(batch);
        try {
          await client.putObjects({
            storeId: "load",
            transactionItems: Array.from({ length: ITEMS_PER_PUT }, (_, i) => ({
              key: `${batch}-k${i}`,
              version: 0n,
              value: bytes(`${batch}-${i}-${"x".repeat(1000)}`),
            })),
          });
          acknowledged.add(batch);
        } catch (error) {
          if (error instanceof BinaryCallError) throw error; // a refusal would be a bug
          return; // the connection died with the server
        }
      }
    };
    const writers = Promise.all([0, 1, 2, 3].map(writer));
    while (acknowledged.size < 40) await new Promise((r) => setTimeout(r, 10));
    killed = true;
    server.child.kill("SIGKILL");
    await server.exited;
    await writers;

    const restarted = await startServerProcess(env);
    try {
      const reader = createBinaryClient(restarted.url, () => signer.header());
      const present = new Map<string, number>();
      let token: string | undefined;
      for (let pages = 0; pages < 1000; pages++) {
        const page = await reader.listKeyVersions({
          storeId: "load",
          pageSize: 100,
          ...(token === undefined ? {} : { pageToken: token }),
        });
        for (const k of page.keyVersions) {
          const batch = k.key.slice(0, k.key.lastIndexOf("-k"));
          present.set(batch, (present.get(batch) ?? 0) + 1);
        }
        token = page.nextPageToken;
        if (!token) break;
      }
      for (const batch of acknowledged) expect(present.get(batch)).toBe(ITEMS_PER_PUT);
      for (const [batch, count] of present) {
        expect(attempted.has(batch)).toBe(true);
        expect(count).toBe(ITEMS_PER_PUT);
      }
      const sample = [...acknowledged][0] ?? "";
      const value = await reader.getObject({ storeId: "load", key: `${sample}-k3` });
      expect(new TextDecoder().decode(value.value?.value)).toBe(`${sample}-3-${"x".repeat(1000)}`);
    } finally {
      restarted.child.kill("SIGTERM");
      await restarted.exited;
    }
  });
});
