import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { hexToBytes } from "@noble/hashes/utils.js";
import { HDKey } from "@scure/bip32";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VssService } from "../gen/vss/vss_pb.js";
import type { App } from "../src/app.js";
import { type OpenedDatabase, openDatabase } from "../src/storage/open-store.js";
import { createBinaryClient } from "./support/binary-client.js";
import { createLnurlWallet, createLnurlWalletFromParent } from "./support/rust-lnurl.js";
import { startServer } from "./support/server.js";

describe("the test wallet follows the Rust client's LNURL-auth steps", () => {
  it("signs the Rust client's test vector byte for byte", () => {
    // The Rust test signs with the master key itself as the LUD-05 parent.
    const wallet = createLnurlWalletFromParent(HDKey.fromMasterSeed(hexToBytes("ab".repeat(32))));
    expect(
      wallet.sign(
        "https://example.com/path?tag=login&k1=e2af6254a8df433264fa23f67eb8188635d15ce883e8fc020989d5f82ae6f11e",
      ),
    ).toBe(
      "https://example.com/path?tag=login&k1=e2af6254a8df433264fa23f67eb8188635d15ce883e8fc020989d5f82ae6f11e&sig=3045022100a75df468de452e618edb8030016eb0894204655c7d93ece1be007fcf36843522022048bc2f00a0a5a30601d274b49cfaf9ef4c76176e5401d0dfb195f5d6ab8ab4c4&key=02d9eb1b467517d685e3b5439082c14bb1a2c9ae672df4d9046d208c193a5846e0",
    );
  });
});

describe("built-in LNURL-auth login", () => {
  let dir: string;
  let database: OpenedDatabase;
  let app: App;
  let base: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "vss-lnurl-"));
    database = await openDatabase({ kind: "embedded", dataDir: "memory://" });
    app = await startServer(
      { kind: "embedded", dataDir: "memory://" },
      { VSS_AUTH: "lnurl", VSS_LNURL_SIGNING_KEY_FILE: join(dir, "key.pem") },
      { database },
    );
    // The Rust client needs a domain name, not an IP address.
    base = `http://localhost:${app.port}`;
  });
  afterAll(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("logs a wallet in and its token authorizes VSS calls on the binary form and gRPC", async () => {
    const wallet = createLnurlWallet(randomBytes(32));
    const token = await wallet.login(`${base}/vss/lnurl-auth`);
    const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as {
      sub: string;
      exp: number;
    };
    expect(claims.sub).toBe(wallet.linkingKeyHex("localhost"));
    expect(claims.exp).toBeGreaterThan(Date.now() / 1000);

    const binary = createBinaryClient(base, () => `Bearer ${token}`);
    await binary.putObjects({
      storeId: "w",
      transactionItems: [{ key: "state", version: 0n, value: new Uint8Array([1]) }],
    });
    const grpc = createClient(VssService, createGrpcTransport({ baseUrl: app.url }));
    const got = await grpc.getObject(
      { storeId: "w", key: "state" },
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(got.value?.version).toBe(1n);
  });

  it("keeps two wallets apart", async () => {
    const alice = createLnurlWallet(randomBytes(32));
    const bob = createLnurlWallet(randomBytes(32));
    const aliceToken = await alice.login(`${base}/vss/lnurl-auth`);
    const bobToken = await bob.login(`${base}/vss/lnurl-auth`);
    await createBinaryClient(base, () => `Bearer ${aliceToken}`).putObjects({
      storeId: "w",
      transactionItems: [{ key: "secret", version: 0n, value: new Uint8Array([1]) }],
    });
    const page = await createBinaryClient(base, () => `Bearer ${bobToken}`).listKeyVersions({
      storeId: "w",
    });
    expect(page.keyVersions).toEqual([]);
  });

  /** Fetches a fresh LNURL and returns it signed by `wallet`. */
  const signedLnurl = async (wallet = createLnurlWallet(randomBytes(32))) =>
    wallet.sign(await (await fetch(`${base}/vss/lnurl-auth`)).text());
  const answer = async (url: string) => {
    const response = await fetch(url);
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  };

  it("hands out an LNURL with tag=login, a 32-byte k1 and action=login", async () => {
    const lnurl = new URL(await (await fetch(`${base}/vss/lnurl-auth`)).text());
    expect(lnurl.origin).toBe(base);
    expect(lnurl.pathname).toBe("/vss/lnurl-auth/callback");
    expect(lnurl.searchParams.get("tag")).toBe("login");
    expect(lnurl.searchParams.get("action")).toBe("login");
    expect(lnurl.searchParams.get("k1")).toMatch(/^[0-9a-f]{64}$/);
  });

  it("refuses a k1 used twice", async () => {
    const signed = await signedLnurl();
    expect((await answer(signed)).body["status"]).toBe("OK");
    const again = await answer(signed);
    expect(again.status).toBe(401);
    expect(again.body).toEqual({ status: "ERROR", reason: "unknown, expired or already used k1" });
  });

  it("lets exactly one of concurrent logins with the same k1 through", async () => {
    const signed = await signedLnurl();
    const results = await Promise.all(Array.from({ length: 8 }, () => answer(signed)));
    expect(results.filter((r) => r.body["status"] === "OK")).toHaveLength(1);
  });

  it("refuses an expired k1", async () => {
    const k1 = randomBytes(32).toString("hex");
    await database.challenges.issue(k1, new Date(Date.now() - 1000));
    const wallet = createLnurlWallet(randomBytes(32));
    const signed = wallet.sign(`${base}/vss/lnurl-auth/callback?tag=login&k1=${k1}&action=login`);
    expect((await answer(signed)).body["reason"]).toBe("unknown, expired or already used k1");
  });

  it("refuses a k1 it never issued", async () => {
    const wallet = createLnurlWallet(randomBytes(32));
    const k1 = randomBytes(32).toString("hex");
    const signed = wallet.sign(`${base}/vss/lnurl-auth/callback?tag=login&k1=${k1}&action=login`);
    expect((await answer(signed)).body["reason"]).toBe("unknown, expired or already used k1");
  });

  it("refuses a bad signature, and the challenge stays usable", async () => {
    const real = new URL(await signedLnurl());
    const forged = new URL(await signedLnurl());
    // The signature of one challenge presented with another k1.
    forged.searchParams.set("k1", real.searchParams.get("k1") ?? "");
    const refused = await answer(forged.toString());
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ status: "ERROR", reason: "invalid signature" });
    expect((await answer(real.toString())).body["status"]).toBe("OK");
  });

  it("refuses malformed parameters", async () => {
    for (const query of [
      "",
      "?k1=zz&sig=30&key=02",
      `?k1=${"a".repeat(64)}&sig=3000&key=04${"a".repeat(128)}`,
    ]) {
      const refused = await answer(`${base}/vss/lnurl-auth/callback${query}`);
      expect(refused.status).toBe(401);
      expect(refused.body["status"]).toBe("ERROR");
    }
  });

  it("keeps its generated signing key owner-only, and tokens survive a restart", async () => {
    const keyFile = join(dir, "key.pem");
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const wallet = createLnurlWallet(randomBytes(32));
    const token = await wallet.login(`${base}/vss/lnurl-auth`);
    const again = await startServer(
      { kind: "embedded", dataDir: "memory://" },
      { VSS_AUTH: "lnurl", VSS_LNURL_SIGNING_KEY_FILE: keyFile },
    );
    try {
      await createBinaryClient(again.url, () => `Bearer ${token}`).listKeyVersions({
        storeId: "w",
      });
    } finally {
      await again.close();
    }
  });

  it("refuses VSS calls without a token, or with a token it did not sign", async () => {
    const client = createBinaryClient(base, () => undefined);
    await expect(client.listKeyVersions({ storeId: "w" })).rejects.toMatchObject({ status: 401 });
    const forged = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: "x", exp: 9e9 })).toString("base64url")}.c2ln`;
    const withForged = createBinaryClient(base, () => `Bearer ${forged}`);
    await expect(withForged.listKeyVersions({ storeId: "w" })).rejects.toMatchObject({
      status: 401,
    });
  });
});
