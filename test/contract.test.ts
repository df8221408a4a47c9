import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../gen/vss/vss_pb.js";
import type { App } from "../src/app.js";
import { BinaryCallError, type BinaryClient, createBinaryClient } from "./support/binary-client.js";
import { storeTargets } from "./support/databases.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";

const bytes = (s: string) => new TextEncoder().encode(s);
const INT64_MAX = 0x7fff_ffff_ffff_ffffn;

/** The VSS error code a call failed with, or "ok". */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    if (error instanceof BinaryCallError) return ErrorCode[error.errorCode];
    throw error;
  }
}

describe.each(storeTargets())(
  "the VSS contract on $name, through the binary HTTP form",
  (target) => {
    let app: App;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      const opened = await target.open();
      cleanup = opened.cleanup;
      app = await startServer(opened.database);
    });
    afterAll(async () => {
      await app?.close();
      await cleanup?.();
    });

    /** A client with an identity (and so a keyspace) of its own. */
    const newClient = (): BinaryClient => {
      const signer = createTestSigner();
      return createBinaryClient(app.url, () => signer.header());
    };
    const keysOf = async (client: BinaryClient, storeId = "s", keyPrefix?: string) => {
      const page = await client.listKeyVersions({
        storeId,
        pageSize: 1000,
        ...(keyPrefix === undefined ? {} : { keyPrefix }),
      });
      return page.keyVersions.map((k) => `${k.key}@${k.version}`);
    };

    describe("GetObject", () => {
      it("returns NO_SUCH_KEY for a key that was never written", async () => {
        const c = newClient();
        expect(await outcome(c.getObject({ storeId: "s", key: "missing" }))).toBe(
          "NO_SUCH_KEY_EXCEPTION",
        );
      });

      it("returns the key, value and version of a written key", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "k", version: 0n, value: bytes("v1") }],
        });
        const got = await c.getObject({ storeId: "s", key: "k" });
        expect(got.value?.key).toBe("k");
        expect(got.value?.version).toBe(1n);
        expect(new TextDecoder().decode(got.value?.value)).toBe("v1");
      });

      it("reads global_version as version 0 with an empty value in a store that never set it", async () => {
        const c = newClient();
        const got = await c.getObject({ storeId: "s", key: "global_version" });
        expect(got.value?.key).toBe("global_version");
        expect(got.value?.version).toBe(0n);
        expect(got.value?.value.length).toBe(0);
      });

      it("reads the current global_version after puts bumped it", async () => {
        const c = newClient();
        await c.putObjects({ storeId: "s", globalVersion: 0n });
        await c.putObjects({ storeId: "s", globalVersion: 1n });
        expect((await c.getObject({ storeId: "s", key: "global_version" })).value?.version).toBe(
          2n,
        );
      });

      it("refuses an empty key", async () => {
        const c = newClient();
        expect(await outcome(c.getObject({ storeId: "s", key: "" }))).toBe(
          "INVALID_REQUEST_EXCEPTION",
        );
      });
    });

    describe("PutObjects with key versions", () => {
      it("creates a key with version 0, and the stored version becomes 1", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 0n, value: bytes("x") }],
        });
        expect(await keysOf(c)).toEqual(["a@1"]);
      });

      it("refuses to create a key that exists, with CONFLICT, and keeps its value", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 0n, value: bytes("first") }],
        });
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              transactionItems: [{ key: "a", version: 0n, value: bytes("second") }],
            }),
          ),
        ).toBe("CONFLICT_EXCEPTION");
        const got = await c.getObject({ storeId: "s", key: "a" });
        expect(new TextDecoder().decode(got.value?.value)).toBe("first");
      });

      it("updates a key whose stored version matches, and increments the version", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 0n, value: bytes("1") }],
        });
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 1n, value: bytes("2") }],
        });
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 2n, value: bytes("3") }],
        });
        const got = await c.getObject({ storeId: "s", key: "a" });
        expect(got.value?.version).toBe(3n);
        expect(new TextDecoder().decode(got.value?.value)).toBe("3");
      });

      it("refuses an update with a stale version, with CONFLICT, and keeps the stored value", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 0n, value: bytes("1") }],
        });
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 1n, value: bytes("2") }],
        });
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              transactionItems: [{ key: "a", version: 1n, value: bytes("stale") }],
            }),
          ),
        ).toBe("CONFLICT_EXCEPTION");
        const got = await c.getObject({ storeId: "s", key: "a" });
        expect(got.value?.version).toBe(2n);
        expect(new TextDecoder().decode(got.value?.value)).toBe("2");
      });

      it("refuses a conditional update of a key that does not exist", async () => {
        const c = newClient();
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              transactionItems: [{ key: "a", version: 3n, value: bytes("x") }],
            }),
          ),
        ).toBe("CONFLICT_EXCEPTION");
        expect(await outcome(c.getObject({ storeId: "s", key: "a" }))).toBe(
          "NO_SUCH_KEY_EXCEPTION",
        );
      });

      it("upserts with version -1 whatever is stored, resetting the version to 1", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: -1n, value: bytes("1") }],
        });
        expect(await keysOf(c)).toEqual(["a@1"]);
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 1n, value: bytes("2") }],
        });
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 2n, value: bytes("3") }],
        });
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: -1n, value: bytes("4") }],
        });
        const got = await c.getObject({ storeId: "s", key: "a" });
        expect(got.value?.version).toBe(1n);
        expect(new TextDecoder().decode(got.value?.value)).toBe("4");
      });

      it("refuses a version below -1 and writes nothing", async () => {
        const c = newClient();
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              transactionItems: [
                { key: "ok", version: 0n, value: bytes("x") },
                { key: "bad", version: -2n, value: bytes("x") },
              ],
            }),
          ),
        ).toBe("INVALID_REQUEST_EXCEPTION");
        expect(await keysOf(c)).toEqual([]);
      });

      it("refuses a version at the int64 maximum, which could not be incremented", async () => {
        const c = newClient();
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              transactionItems: [{ key: "a", version: INT64_MAX, value: bytes("x") }],
            }),
          ),
        ).toBe("INVALID_REQUEST_EXCEPTION");
      });

      it("refuses duplicate keys within one request and writes nothing", async () => {
        const c = newClient();
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              transactionItems: [
                { key: "a", version: 0n, value: bytes("1") },
                { key: "a", version: -1n, value: bytes("2") },
              ],
            }),
          ),
        ).toBe("INVALID_REQUEST_EXCEPTION");
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              transactionItems: [{ key: "b", version: 0n, value: bytes("1") }],
              deleteItems: [{ key: "b", version: -1n }],
            }),
          ),
        ).toBe("INVALID_REQUEST_EXCEPTION");
        expect(await keysOf(c)).toEqual([]);
      });

      it("accepts 1000 items in one request and refuses 1001", async () => {
        const c = newClient();
        const items = (n: number) =>
          Array.from({ length: n }, (_, i) => ({
            key: `k${i}`,
            version: 0n,
            value: bytes(`v${i}`),
          }));
        expect(await outcome(c.putObjects({ storeId: "big", transactionItems: items(1001) }))).toBe(
          "INVALID_REQUEST_EXCEPTION",
        );
        await c.putObjects({ storeId: "big", transactionItems: items(1000) });
        const page = await c.listKeyVersions({ storeId: "big" });
        expect(page.keyVersions.length).toBeGreaterThan(0);
        expect((await c.getObject({ storeId: "big", key: "k999" })).value?.version).toBe(1n);
      });

      it("succeeds on an empty request and changes nothing", async () => {
        const c = newClient();
        await c.putObjects({ storeId: "s" });
        expect((await c.getObject({ storeId: "s", key: "global_version" })).value?.version).toBe(
          0n,
        );
      });
    });

    describe("PutObjects with global_version", () => {
      it("applies the request and bumps global_version when it matches", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          globalVersion: 0n,
          transactionItems: [{ key: "a", version: 0n, value: bytes("x") }],
        });
        await c.putObjects({
          storeId: "s",
          globalVersion: 1n,
          transactionItems: [{ key: "b", version: 0n, value: bytes("y") }],
        });
        expect((await c.getObject({ storeId: "s", key: "global_version" })).value?.version).toBe(
          2n,
        );
        expect(await keysOf(c)).toEqual(["b@1", "a@1"]);
      });

      it("refuses the whole request with CONFLICT when global_version does not match", async () => {
        const c = newClient();
        await c.putObjects({ storeId: "s", globalVersion: 0n });
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              globalVersion: 0n,
              transactionItems: [{ key: "a", version: -1n, value: bytes("x") }],
            }),
          ),
        ).toBe("CONFLICT_EXCEPTION");
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              globalVersion: 5n,
              transactionItems: [{ key: "a", version: -1n, value: bytes("x") }],
            }),
          ),
        ).toBe("CONFLICT_EXCEPTION");
        expect(await keysOf(c)).toEqual([]);
        expect((await c.getObject({ storeId: "s", key: "global_version" })).value?.version).toBe(
          1n,
        );
      });

      it("refuses a non-zero global_version in a store that never set one", async () => {
        const c = newClient();
        expect(await outcome(c.putObjects({ storeId: "s", globalVersion: 1n }))).toBe(
          "CONFLICT_EXCEPTION",
        );
        expect((await c.getObject({ storeId: "s", key: "global_version" })).value?.version).toBe(
          0n,
        );
      });

      it("checks and bumps global_version on a request with no items", async () => {
        const c = newClient();
        await c.putObjects({ storeId: "s", globalVersion: 0n });
        await c.putObjects({ storeId: "s", globalVersion: 1n });
        expect((await c.getObject({ storeId: "s", key: "global_version" })).value?.version).toBe(
          2n,
        );
      });

      it("neither checks nor changes global_version when it is absent", async () => {
        const c = newClient();
        await c.putObjects({ storeId: "s", globalVersion: 0n });
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 0n, value: bytes("x") }],
        });
        expect((await c.getObject({ storeId: "s", key: "global_version" })).value?.version).toBe(
          1n,
        );
      });

      it("refuses a negative global_version", async () => {
        const c = newClient();
        expect(await outcome(c.putObjects({ storeId: "s", globalVersion: -1n }))).toBe(
          "INVALID_REQUEST_EXCEPTION",
        );
        expect((await c.getObject({ storeId: "s", key: "global_version" })).value?.version).toBe(
          0n,
        );
      });

      it("refuses writing or deleting the key global_version through items", async () => {
        const c = newClient();
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              transactionItems: [{ key: "global_version", version: -1n, value: bytes("x") }],
            }),
          ),
        ).toBe("INVALID_REQUEST_EXCEPTION");
        expect(
          await outcome(
            c.putObjects({ storeId: "s", deleteItems: [{ key: "global_version", version: -1n }] }),
          ),
        ).toBe("INVALID_REQUEST_EXCEPTION");
      });
    });

    describe("PutObjects all or nothing", () => {
      it("applies nothing when one item of many conflicts", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "exists", version: 0n, value: bytes("old") }],
        });
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              transactionItems: [
                { key: "new1", version: 0n, value: bytes("x") },
                { key: "exists", version: 0n, value: bytes("new") },
                { key: "new2", version: -1n, value: bytes("y") },
              ],
            }),
          ),
        ).toBe("CONFLICT_EXCEPTION");
        expect(await keysOf(c)).toEqual(["exists@1"]);
        expect(
          new TextDecoder().decode(
            (await c.getObject({ storeId: "s", key: "exists" })).value?.value,
          ),
        ).toBe("old");
      });

      it("applies puts and deletes together", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [
            { key: "a", version: 0n, value: bytes("a") },
            { key: "b", version: 0n, value: bytes("b") },
          ],
        });
        await c.putObjects({
          storeId: "s",
          transactionItems: [
            { key: "a", version: 1n, value: bytes("a2") },
            { key: "c", version: 0n, value: bytes("c") },
          ],
          deleteItems: [{ key: "b", version: 1n }],
        });
        expect((await keysOf(c)).sort()).toEqual(["a@2", "c@1"]);
      });

      it("fails the whole request with CONFLICT when a delete item's key does not exist", async () => {
        const c = newClient();
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              transactionItems: [{ key: "a", version: 0n, value: bytes("a") }],
              deleteItems: [{ key: "missing", version: -1n }],
            }),
          ),
        ).toBe("CONFLICT_EXCEPTION");
        expect(await keysOf(c)).toEqual([]);
      });

      it("fails the whole request with CONFLICT when a delete item's version does not match", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "d", version: 0n, value: bytes("d") }],
        });
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              transactionItems: [{ key: "a", version: 0n, value: bytes("a") }],
              deleteItems: [{ key: "d", version: 7n }],
            }),
          ),
        ).toBe("CONFLICT_EXCEPTION");
        expect(await keysOf(c)).toEqual(["d@1"]);
      });

      it("deletes unconditionally with a delete item of version -1", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "d", version: 0n, value: bytes("d") }],
        });
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "d", version: 1n, value: bytes("d") }],
        });
        await c.putObjects({ storeId: "s", deleteItems: [{ key: "d", version: -1n }] });
        expect(await keysOf(c)).toEqual([]);
      });

      it("refuses a delete item with a version below -1", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "d", version: 0n, value: bytes("d") }],
        });
        expect(
          await outcome(c.putObjects({ storeId: "s", deleteItems: [{ key: "d", version: -5n }] })),
        ).toBe("INVALID_REQUEST_EXCEPTION");
        expect(await keysOf(c)).toEqual(["d@1"]);
      });

      it("rolls back items and deletes when global_version does not match", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          globalVersion: 0n,
          transactionItems: [{ key: "d", version: 0n, value: bytes("d") }],
        });
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              globalVersion: 0n,
              transactionItems: [{ key: "a", version: 0n, value: bytes("a") }],
              deleteItems: [{ key: "d", version: 1n }],
            }),
          ),
        ).toBe("CONFLICT_EXCEPTION");
        expect(await keysOf(c)).toEqual(["d@1"]);
      });
    });

    describe("DeleteObject", () => {
      it("deletes a key whose version matches", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 0n, value: bytes("a") }],
        });
        await c.deleteObject({ storeId: "s", keyValue: { key: "a", version: 1n } });
        expect(await outcome(c.getObject({ storeId: "s", key: "a" }))).toBe(
          "NO_SUCH_KEY_EXCEPTION",
        );
      });

      it("succeeds without deleting anything when the version does not match", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 0n, value: bytes("a") }],
        });
        await c.deleteObject({ storeId: "s", keyValue: { key: "a", version: 9n } });
        expect((await c.getObject({ storeId: "s", key: "a" })).value?.version).toBe(1n);
      });

      it("succeeds for a key that does not exist", async () => {
        const c = newClient();
        expect(
          await outcome(c.deleteObject({ storeId: "s", keyValue: { key: "nope", version: 1n } })),
        ).toBe("ok");
      });

      it("deletes unconditionally with version -1", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 0n, value: bytes("a") }],
        });
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 1n, value: bytes("b") }],
        });
        await c.deleteObject({ storeId: "s", keyValue: { key: "a", version: -1n } });
        expect(await outcome(c.getObject({ storeId: "s", key: "a" }))).toBe(
          "NO_SUCH_KEY_EXCEPTION",
        );
      });

      it("refuses a request without key_value", async () => {
        const c = newClient();
        expect(await outcome(c.deleteObject({ storeId: "s" }))).toBe("INVALID_REQUEST_EXCEPTION");
      });

      it("refuses deleting global_version", async () => {
        const c = newClient();
        await c.putObjects({ storeId: "s", globalVersion: 0n });
        expect(
          await outcome(
            c.deleteObject({ storeId: "s", keyValue: { key: "global_version", version: -1n } }),
          ),
        ).toBe("INVALID_REQUEST_EXCEPTION");
        expect((await c.getObject({ storeId: "s", key: "global_version" })).value?.version).toBe(
          1n,
        );
      });
    });

    describe("ListKeyVersions", () => {
      it("lists keys newest first by creation, with versions and without values", async () => {
        const c = newClient();
        for (const key of ["first", "second", "third"]) {
          await c.putObjects({
            storeId: "s",
            transactionItems: [{ key, version: 0n, value: bytes("v") }],
          });
        }
        const page = await c.listKeyVersions({ storeId: "s" });
        expect(page.keyVersions.map((k) => k.key)).toEqual(["third", "second", "first"]);
        expect(page.keyVersions.every((k) => k.value.length === 0 && k.version === 1n)).toBe(true);
      });

      it("keeps an updated key in place, and moves a deleted and re-created key to the front", async () => {
        const c = newClient();
        for (const key of ["a", "b", "c"]) {
          await c.putObjects({
            storeId: "s",
            transactionItems: [{ key, version: 0n, value: bytes("v") }],
          });
        }
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 1n, value: bytes("v2") }],
        });
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "b", version: -1n, value: bytes("v2") }],
        });
        expect(await keysOf(c)).toEqual(["c@1", "b@1", "a@2"]);
        await c.deleteObject({ storeId: "s", keyValue: { key: "a", version: -1n } });
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "a", version: 0n, value: bytes("v3") }],
        });
        expect(await keysOf(c)).toEqual(["a@1", "c@1", "b@1"]);
      });

      it("never lists the key global_version", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          globalVersion: 0n,
          transactionItems: [{ key: "a", version: 0n, value: bytes("v") }],
        });
        expect(await keysOf(c)).toEqual(["a@1"]);
        expect(await keysOf(c, "s", "global")).toEqual([]);
      });

      it("returns global_version on the first page only", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          globalVersion: 0n,
          transactionItems: Array.from({ length: 5 }, (_, i) => ({
            key: `k${i}`,
            version: 0n,
            value: bytes("v"),
          })),
        });
        const first = await c.listKeyVersions({ storeId: "s", pageSize: 2 });
        expect(first.globalVersion).toBe(1n);
        expect(first.nextPageToken).not.toBe("");
        const second = await c.listKeyVersions({
          storeId: "s",
          pageSize: 2,
          pageToken: first.nextPageToken ?? "",
        });
        expect(second.globalVersion).toBeUndefined();
      });

      it("returns global_version 0 for a store that never set it", async () => {
        const c = newClient();
        const page = await c.listKeyVersions({ storeId: "s" });
        expect(page.globalVersion).toBe(0n);
        expect(page.keyVersions).toEqual([]);
        expect(page.nextPageToken).toBe("");
      });

      it("takes key_prefix literally, with %, _ and backslash as ordinary characters", async () => {
        const c = newClient();
        const keys = ["a%b", "axb", "a_c", "ayc", "a\\d", "a\\\\d", "abc", "b"];
        await c.putObjects({
          storeId: "s",
          transactionItems: keys.map((key) => ({ key, version: 0n, value: bytes("v") })),
        });
        const list = async (prefix: string) =>
          (await keysOf(c, "s", prefix)).map((k) => k.split("@")[0]).sort();
        expect(await list("a%")).toEqual(["a%b"]);
        expect(await list("a_")).toEqual(["a_c"]);
        expect(await list("a\\")).toEqual(["a\\\\d", "a\\d"]);
        expect(await list("a")).toEqual(["a%b", "a\\\\d", "a\\d", "a_c", "abc", "axb", "ayc"]);
        expect(await list("")).toHaveLength(keys.length);
      });

      it("pages through a store, ending with an empty next_page_token", async () => {
        const c = newClient();
        const keys = Array.from({ length: 25 }, (_, i) => `key${String(i).padStart(2, "0")}`);
        for (const key of keys) {
          await c.putObjects({
            storeId: "s",
            transactionItems: [{ key, version: 0n, value: bytes("v") }],
          });
        }
        const seen: string[] = [];
        let token: string | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await c.listKeyVersions({
            storeId: "s",
            pageSize: 10,
            ...(token === undefined ? {} : { pageToken: token }),
          });
          seen.push(...page.keyVersions.map((k) => k.key));
          expect(page.keyVersions.length).toBeLessThanOrEqual(10);
          token = page.nextPageToken;
          if (token === "" || token === undefined) break;
        }
        expect(token).toBe("");
        expect(seen).toEqual([...keys].reverse());
      });

      it("neither skips nor repeats a key that exists throughout, while keys are inserted and deleted between pages", async () => {
        const c = newClient();
        const stable = Array.from({ length: 30 }, (_, i) => `stable${i}`);
        const doomed = Array.from({ length: 10 }, (_, i) => `doomed${i}`);
        const initial = [...stable, ...doomed].sort(() => Math.random() - 0.5);
        for (const key of initial) {
          await c.putObjects({
            storeId: "s",
            transactionItems: [{ key, version: 0n, value: bytes("v") }],
          });
        }
        const seen: string[] = [];
        let token: string | undefined;
        for (let pages = 0; pages < 50; pages++) {
          const page = await c.listKeyVersions({
            storeId: "s",
            pageSize: 4,
            ...(token === undefined ? {} : { pageToken: token }),
          });
          seen.push(...page.keyVersions.map((k) => k.key));
          token = page.nextPageToken;
          if (token === "" || token === undefined) break;
          // Between pages: new keys arrive, some old ones go.
          await c.putObjects({
            storeId: "s",
            transactionItems: [{ key: `new${pages}`, version: 0n, value: bytes("v") }],
          });
          const gone = doomed[pages];
          if (gone !== undefined)
            await c.deleteObject({ storeId: "s", keyValue: { key: gone, version: -1n } });
        }
        expect(token).toBe("");
        const stableSeen = seen.filter((k) => k.startsWith("stable"));
        expect(new Set(stableSeen).size).toBe(stableSeen.length);
        expect([...stableSeen].sort()).toEqual([...stable].sort());
        expect(new Set(seen).size).toBe(seen.length);
      });

      it("uses a server-chosen page size when page_size is absent or 0, capped at 100", async () => {
        const c = newClient();
        const items = Array.from({ length: 150 }, (_, i) => ({
          key: `k${i}`,
          version: 0n,
          value: bytes("v"),
        }));
        await c.putObjects({ storeId: "s", transactionItems: items });
        expect((await c.listKeyVersions({ storeId: "s" })).keyVersions).toHaveLength(100);
        expect((await c.listKeyVersions({ storeId: "s", pageSize: 0 })).keyVersions).toHaveLength(
          100,
        );
        expect(
          (await c.listKeyVersions({ storeId: "s", pageSize: 5000 })).keyVersions,
        ).toHaveLength(100);
        expect((await c.listKeyVersions({ storeId: "s", pageSize: 7 })).keyVersions).toHaveLength(
          7,
        );
      });

      it("refuses a negative page_size", async () => {
        const c = newClient();
        expect(await outcome(c.listKeyVersions({ storeId: "s", pageSize: -1 }))).toBe(
          "INVALID_REQUEST_EXCEPTION",
        );
      });

      it("refuses a malformed page_token", async () => {
        const c = newClient();
        for (const pageToken of ["garbage", "-5", "1.5", "99999999999999999999", "0"]) {
          expect(await outcome(c.listKeyVersions({ storeId: "s", pageToken }))).toBe(
            "INVALID_REQUEST_EXCEPTION",
          );
        }
      });
    });

    describe("keyspaces and limits", () => {
      it("treats the empty store_id as a valid store of its own", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "",
          transactionItems: [{ key: "a", version: 0n, value: bytes("empty") }],
        });
        await c.putObjects({
          storeId: "other",
          transactionItems: [{ key: "a", version: 0n, value: bytes("other") }],
        });
        expect(
          new TextDecoder().decode((await c.getObject({ storeId: "", key: "a" })).value?.value),
        ).toBe("empty");
        expect(await keysOf(c, "")).toEqual(["a@1"]);
      });

      it("keeps the stores of one user apart", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "one",
          globalVersion: 0n,
          transactionItems: [{ key: "a", version: 0n, value: bytes("1") }],
        });
        expect(await outcome(c.getObject({ storeId: "two", key: "a" }))).toBe(
          "NO_SUCH_KEY_EXCEPTION",
        );
        expect(await keysOf(c, "two")).toEqual([]);
        expect((await c.getObject({ storeId: "two", key: "global_version" })).value?.version).toBe(
          0n,
        );
      });

      it("keeps users apart in get, list, put and delete", async () => {
        const alice = newClient();
        const bob = newClient();
        await alice.putObjects({
          storeId: "s",
          transactionItems: [{ key: "secret", version: 0n, value: bytes("alice") }],
        });
        expect(await outcome(bob.getObject({ storeId: "s", key: "secret" }))).toBe(
          "NO_SUCH_KEY_EXCEPTION",
        );
        expect(await keysOf(bob)).toEqual([]);
        // Bob's create of the same key is not a conflict: it is his own key.
        await bob.putObjects({
          storeId: "s",
          transactionItems: [{ key: "secret", version: 0n, value: bytes("bob") }],
        });
        await bob.deleteObject({ storeId: "s", keyValue: { key: "secret", version: -1n } });
        expect(
          new TextDecoder().decode(
            (await alice.getObject({ storeId: "s", key: "secret" })).value?.value,
          ),
        ).toBe("alice");
      });

      it("accepts a 600-character key and refuses a 601-character one", async () => {
        const c = newClient();
        const long = "k".repeat(600);
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: long, version: 0n, value: bytes("v") }],
        });
        expect((await c.getObject({ storeId: "s", key: long })).value?.version).toBe(1n);
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              transactionItems: [{ key: `${long}k`, version: 0n, value: bytes("v") }],
            }),
          ),
        ).toBe("INVALID_REQUEST_EXCEPTION");
        expect(await outcome(c.getObject({ storeId: "s", key: `${long}k` }))).toBe(
          "INVALID_REQUEST_EXCEPTION",
        );
      });

      it("counts a key's length in characters, not bytes", async () => {
        const c = newClient();
        const emoji = "🔑".repeat(600);
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: emoji, version: 0n, value: bytes("v") }],
        });
        expect((await c.getObject({ storeId: "s", key: emoji })).value?.version).toBe(1n);
      });

      it("accepts a 120-character store_id and refuses a 121-character one", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s".repeat(120),
          transactionItems: [{ key: "a", version: 0n, value: bytes("v") }],
        });
        expect(
          await outcome(
            c.putObjects({
              storeId: "s".repeat(121),
              transactionItems: [{ key: "a", version: 0n, value: bytes("v") }],
            }),
          ),
        ).toBe("INVALID_REQUEST_EXCEPTION");
      });

      it("refuses keys and store_ids containing NUL", async () => {
        const c = newClient();
        expect(
          await outcome(
            c.putObjects({
              storeId: "s",
              transactionItems: [{ key: "a\u0000b", version: 0n, value: bytes("v") }],
            }),
          ),
        ).toBe("INVALID_REQUEST_EXCEPTION");
        expect(await outcome(c.getObject({ storeId: "s\u0000", key: "a" }))).toBe(
          "INVALID_REQUEST_EXCEPTION",
        );
      });

      it("stores unicode keys exactly", async () => {
        const c = newClient();
        const keys = ["ключ", "鍵", "🔑/channel#0", "e\u0301", "\u00e9"];
        await c.putObjects({
          storeId: "s",
          transactionItems: keys.map((key) => ({ key, version: 0n, value: bytes(key) })),
        });
        for (const key of keys) {
          const got = await c.getObject({ storeId: "s", key });
          expect(got.value?.key).toBe(key);
          expect(new TextDecoder().decode(got.value?.value)).toBe(key);
        }
        expect((await keysOf(c)).sort()).toEqual(keys.map((k) => `${k}@1`).sort());
      });

      it("stores and returns a 1 MiB value byte for byte", async () => {
        const c = newClient();
        const value = new Uint8Array(1024 * 1024).map((_, i) => (i * 31 + 7) & 0xff);
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "monitor", version: 0n, value }],
        });
        const got = await c.getObject({ storeId: "s", key: "monitor" });
        expect(Buffer.from(got.value?.value ?? []).equals(Buffer.from(value))).toBe(true);
      });

      it("stores an empty value", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "e", version: 0n, value: new Uint8Array(0) }],
        });
        expect((await c.getObject({ storeId: "s", key: "e" })).value?.value.length).toBe(0);
      });
    });

    describe("concurrency", () => {
      it("lets exactly one of many concurrent writers of the same key at the same version win", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "hot", version: 0n, value: bytes("0") }],
        });
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            outcome(
              c.putObjects({
                storeId: "s",
                transactionItems: [{ key: "hot", version: 1n, value: bytes(`w${i}`) }],
              }),
            ),
          ),
        );
        expect(results.filter((r) => r === "ok")).toHaveLength(1);
        expect(results.filter((r) => r === "CONFLICT_EXCEPTION")).toHaveLength(19);
        expect((await c.getObject({ storeId: "s", key: "hot" })).value?.version).toBe(2n);
      });

      it("lets exactly one of many concurrent creators of the same key win", async () => {
        const c = newClient();
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            outcome(
              c.putObjects({
                storeId: "s",
                transactionItems: [{ key: "new", version: 0n, value: bytes(`w${i}`) }],
              }),
            ),
          ),
        );
        expect(results.filter((r) => r === "ok")).toHaveLength(1);
        expect(results.filter((r) => r === "CONFLICT_EXCEPTION")).toHaveLength(19);
      });

      it("loses no update when concurrent writers retry compare-and-set on one key and the global version", async () => {
        const c = newClient();
        await c.putObjects({
          storeId: "s",
          transactionItems: [{ key: "counter", version: 0n, value: bytes("0") }],
        });
        const workers = 6;
        const incrementsEach = 5;
        const worker = async () => {
          let done = 0;
          for (let attempt = 0; done < incrementsEach && attempt < 500; attempt++) {
            const current = await c.getObject({ storeId: "s", key: "counter" });
            const gv =
              (await c.getObject({ storeId: "s", key: "global_version" })).value?.version ?? 0n;
            const n = Number(new TextDecoder().decode(current.value?.value));
            const result = await outcome(
              c.putObjects({
                storeId: "s",
                globalVersion: gv,
                transactionItems: [
                  {
                    key: "counter",
                    version: current.value?.version ?? 0n,
                    value: bytes(String(n + 1)),
                  },
                ],
              }),
            );
            expect(["ok", "CONFLICT_EXCEPTION"]).toContain(result);
            if (result === "ok") done++;
          }
          return done;
        };
        const done = await Promise.all(Array.from({ length: workers }, worker));
        expect(done).toEqual(Array(workers).fill(incrementsEach));
        const final = await c.getObject({ storeId: "s", key: "counter" });
        expect(new TextDecoder().decode(final.value?.value)).toBe(String(workers * incrementsEach));
        expect(final.value?.version).toBe(BigInt(workers * incrementsEach + 1));
        expect((await c.getObject({ storeId: "s", key: "global_version" })).value?.version).toBe(
          BigInt(workers * incrementsEach),
        );
      });

      it("never answers 500 to concurrent multi-key puts that overlap in opposite orders", async () => {
        const c = newClient();
        const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
        const results = await Promise.all(
          Array.from({ length: 16 }, (_, i) => {
            const order = i % 2 === 0 ? keys : [...keys].reverse();
            return outcome(
              c.putObjects({
                storeId: "s",
                transactionItems: order.map((key) => ({
                  key,
                  version: -1n,
                  value: bytes(`w${i}`),
                })),
              }),
            );
          }),
        );
        expect(results.every((r) => r === "ok")).toBe(true);
      });
    });
  },
);
