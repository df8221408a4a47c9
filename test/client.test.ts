import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HDKey } from "@scure/bip32";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App } from "../src/app.js";
import {
  type AuthProvider,
  createKeyObfuscator,
  createVssClient,
  decryptValue,
  deriveLdkNodeVssKeys,
  encryptValue,
  jwtAuth,
  ldkStoredKey,
  lnurlAuth,
  parseLdkStoredKey,
  signatureAuth,
  signLnurl,
  type VssClient,
  VssClientError,
  type VssProtocol,
} from "../src/client/index.js";
import { startServer } from "./support/server.js";

const bytes = (s: string) => new TextEncoder().encode(s);
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });

interface Scheme {
  name: string;
  env: (dir: string) => Record<string, string>;
  auth: (app: App) => AuthProvider;
  baseUrl: (app: App) => string;
}

const SCHEMES: Scheme[] = [
  {
    name: "signature",
    env: () => ({}),
    auth: () => signatureAuth(randomBytes(32)),
    baseUrl: (app) => app.url,
  },
  {
    name: "JWT",
    env: () => ({
      VSS_AUTH: "jwt",
      VSS_JWT_RSA_PEM: rsa.publicKey.export({ type: "spki", format: "pem" }).toString(),
    }),
    auth: () => {
      const sub = randomBytes(8).toString("hex");
      return jwtAuth(() =>
        new SignJWT({ sub })
          .setProtectedHeader({ alg: "RS256" })
          .setExpirationTime("5m")
          .sign(rsa.privateKey),
      );
    },
    baseUrl: (app) => app.url,
  },
  {
    name: "LNURL-auth",
    env: (dir) => ({ VSS_AUTH: "lnurl", VSS_LNURL_SIGNING_KEY_FILE: join(dir, "lnurl.pem") }),
    auth: (app) =>
      lnurlAuth({
        url: `http://localhost:${app.port}/vss/lnurl-auth`,
        parentKey: HDKey.fromMasterSeed(randomBytes(32)).deriveChild(0x8000_0000 + 138),
      }),
    baseUrl: (app) => `http://localhost:${app.port}`,
  },
];
const PROTOCOLS: VssProtocol[] = ["binary", "connect", "grpc-web", "grpc"];

const kindOf = (call: Promise<unknown>) =>
  call.then(
    () => "ok",
    (e: unknown) => (e instanceof VssClientError ? e.kind : `unexpected: ${String(e)}`),
  );

describe.each(SCHEMES)("the TypeScript client with $name authentication", (scheme) => {
  let app: App;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "vss-client-"));
    app = await startServer({ kind: "embedded", dataDir: "memory://" }, scheme.env(dir));
  });
  afterAll(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each(PROTOCOLS)(
    "reads, writes, lists and deletes over %s, with typed errors",
    async (protocol) => {
      const client: VssClient = createVssClient({
        baseUrl: scheme.baseUrl(app),
        storeId: "wallet",
        protocol,
        auth: scheme.auth(app),
      });
      await client.put([{ key: "a", version: 0n, value: bytes("1") }], { globalVersion: 0n });
      expect(await kindOf(client.put([{ key: "a", version: 0n, value: bytes("2") }]))).toBe(
        "conflict",
      );
      expect(await kindOf(client.get("missing"))).toBe("no_such_key");
      expect(await kindOf(client.list({ pageSize: -1 }))).toBe("invalid_request");
      const got = await client.get("a");
      expect(got.version).toBe(1n);
      expect(new TextDecoder().decode(got.value)).toBe("1");
      expect(await client.globalVersion()).toBe(1n);

      await client.put(
        Array.from({ length: 12 }, (_, i) => ({ key: `k${i}`, version: -1n, value: bytes("v") })),
      );
      const all: string[] = [];
      for await (const k of client.listAll({ pageSize: 5, prefix: "k" })) all.push(k.key);
      expect(all.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `k${i}`).sort());
      const first = await client.list({ pageSize: 5 });
      expect(first.globalVersion).toBe(1n);
      expect(first.nextPageToken).toBeDefined();

      await client.delete("a", 1n);
      expect(await kindOf(client.get("a"))).toBe("no_such_key");
      await client.delete("a"); // already gone: still fine
    },
  );
});

/** `fetch`, counting the requests it sends. */
function countingFetch(): { fetch: typeof fetch; requests: number } {
  const counter = {
    requests: 0,
    fetch: ((input, init) => {
      counter.requests++;
      return fetch(input, init);
    }) as typeof fetch,
  };
  return counter;
}

describe("client retries", () => {
  let app: App;
  beforeAll(async () => {
    app = await startServer(
      { kind: "embedded", dataDir: "memory://" },
      { VSS_RATE_LIMIT_PER_SEC: "2", VSS_RATE_LIMIT_BURST: "1" },
    );
  });
  afterAll(() => app?.close());

  it("retries rate-limited calls with backoff until they pass, and never retries a conflict", async () => {
    const counting = countingFetch();
    const client = createVssClient({
      baseUrl: app.url,
      storeId: "s",
      auth: signatureAuth(randomBytes(32)),
      fetch: counting.fetch,
      retry: { maxAttempts: 50, initialDelayMs: 100, maxDelayMs: 1000, maxElapsedMs: 60_000 },
    });
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        client.put([{ key: `k${i}`, version: 0n, value: bytes("v") }]),
      ),
    );
    expect(counting.requests).toBeGreaterThan(6);
    counting.requests = 0;
    await new Promise((r) => setTimeout(r, 3000));
    expect(await kindOf(client.put([{ key: "k0", version: 0n, value: bytes("again") }]))).toBe(
      "conflict",
    );
    expect(counting.requests).toBe(1);
  });

  it.each<VssProtocol>(["binary", "connect", "grpc-web"])(
    "waits as long as the server's Retry-After asks, however short its own backoff (%s)",
    async (protocol) => {
      await new Promise((r) => setTimeout(r, 1000)); // a fresh second of the rate
      const counting = countingFetch();
      const client = createVssClient({
        baseUrl: app.url,
        storeId: "s",
        protocol,
        auth: signatureAuth(randomBytes(32)),
        fetch: counting.fetch,
        // Alone, this backoff would spend every attempt within milliseconds.
        retry: { maxAttempts: 4, initialDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 20_000 },
      });
      const started = Date.now();
      await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          client.put([{ key: `r${i}`, version: -1n, value: bytes("v") }]),
        ),
      );
      // 2 calls/s plus a burst of 1: the last puts can only pass a second later.
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(counting.requests).toBeGreaterThan(5);
      expect(counting.requests).toBeLessThanOrEqual(5 * 4);
    },
  );

  it.each<VssProtocol>(["binary", "connect", "grpc-web"])(
    "gives up at once when the Retry-After is beyond its time budget (%s)",
    async (protocol) => {
      const auth = signatureAuth(randomBytes(32));
      const options = { baseUrl: app.url, storeId: "s", protocol, auth };
      const put = [{ key: "k", version: -1n, value: bytes("v") }];
      // Spends this identity's second: 2 calls/s plus a burst of 1.
      for (let i = 0; i < 3; i++) await createVssClient(options).put(put);
      const counting = countingFetch();
      const started = Date.now();
      const outcome = await kindOf(
        createVssClient({
          ...options,
          fetch: counting.fetch,
          retry: { maxAttempts: 10, initialDelayMs: 1, maxElapsedMs: 300 },
        }).put(put),
      );
      expect(outcome).toBe("internal");
      expect(counting.requests).toBe(1);
      expect(Date.now() - started).toBeLessThan(300);
    },
  );

  it("gives up on an unreachable server within its bounds, as a network error", async () => {
    const client = createVssClient({
      baseUrl: "http://127.0.0.1:9",
      storeId: "s",
      retry: { maxAttempts: 3, initialDelayMs: 10 },
    });
    expect(await kindOf(client.get("k"))).toBe("network");
  });
});

describe.each<VssProtocol>(["binary", "connect", "grpc-web"])(
  "a put whose answer was lost, over %s",
  (protocol) => {
    let app: App;
    beforeAll(async () => {
      app = await startServer({ kind: "embedded", dataDir: "memory://" });
    });
    afterAll(() => app?.close());

    /** A fetch that delivers the first put to the server, then loses its answer. */
    const losingFirstPutAnswer = (beforeLoss: () => Promise<void> = async () => {}) => {
      let lost = false;
      const lossy: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (!lost && /putobjects/i.test(String(input))) {
          lost = true;
          await response.arrayBuffer(); // the server has answered: the put committed
          await beforeLoss();
          throw new TypeError("connection reset (the answer was lost)");
        }
        return response;
      };
      return lossy;
    };

    it("resolves when the retry meets its own committed write", async () => {
      const key = randomBytes(32);
      const fetchLosing = losingFirstPutAnswer();
      const client = createVssClient({
        baseUrl: app.url,
        storeId: "lost",
        protocol,
        auth: signatureAuth(key),
        fetch: fetchLosing,
        retry: { initialDelayMs: 1 },
      });
      const value = randomBytes(64);
      await client.put([{ key: "a", version: 0n, value }], { globalVersion: 0n });
      const stored = await client.get("a");
      expect(stored.version).toBe(1n);
      expect(Buffer.from(stored.value).equals(value)).toBe(true);
      expect(await client.globalVersion()).toBe(1n);
    });

    it("keeps the conflict when another writer changed the key in between", async () => {
      const key = randomBytes(32);
      const other = createVssClient({
        baseUrl: app.url,
        storeId: "lost-raced",
        protocol,
        auth: signatureAuth(key),
      });
      const client = createVssClient({
        baseUrl: app.url,
        storeId: "lost-raced",
        protocol,
        auth: signatureAuth(key),
        fetch: losingFirstPutAnswer(() =>
          other.put([{ key: "a", version: 1n, value: bytes("the other writer") }]),
        ),
        retry: { initialDelayMs: 1 },
      });
      expect(await kindOf(client.put([{ key: "a", version: 0n, value: bytes("mine") }]))).toBe(
        "conflict",
      );
      const stored = await other.get("a");
      expect(new TextDecoder().decode(stored.value)).toBe("the other writer");
      expect(stored.version).toBe(2n);
    });
  },
);

describe("LDK Node's keys", () => {
  const seed = Uint8Array.from({ length: 64 }, (_, i) => i);

  it("derives the data, obfuscation and signing keys from the wallet seed as LDK Node does", () => {
    const keys = deriveLdkNodeVssKeys(seed);
    const vss = HDKey.fromMasterSeed(seed).derive("m/877'");
    expect(Buffer.from(keys.vssSeed).equals(Buffer.from(vss.privateKey ?? []))).toBe(true);
    expect(
      Buffer.from(keys.signingKey).equals(Buffer.from(vss.derive("m/139'").privateKey ?? [])),
    ).toBe(true);
    expect(keys.dataKey).toHaveLength(32);
    expect(Buffer.from(keys.dataKey).equals(Buffer.from(keys.obfuscationKey))).toBe(false);
    expect(deriveLdkNodeVssKeys(seed).dataKey).toEqual(keys.dataKey);
  });

  it("builds V1 stored keys, reads them back, and encrypts with the stored key as associated data", () => {
    const keys = deriveLdkNodeVssKeys(seed);
    const obfuscator = createKeyObfuscator(keys.obfuscationKey);
    const stored = ldkStoredKey(obfuscator, "monitors", "", "txid_0");
    expect(stored.split("#")).toHaveLength(2);
    expect(parseLdkStoredKey(obfuscator, stored)).toEqual({
      primaryNamespace: "monitors",
      secondaryNamespace: "",
      key: "txid_0",
    });
    const sealed = encryptValue(bytes("monitor bytes"), 0n, keys.dataKey, bytes(stored));
    expect(new TextDecoder().decode(decryptValue(sealed, keys.dataKey, bytes(stored)).value)).toBe(
      "monitor bytes",
    );
  });
});

describe("the client's LNURL-auth signing", () => {
  it("matches the Rust client's test vector byte for byte", () => {
    const master = HDKey.fromMasterSeed(Buffer.from("ab".repeat(32), "hex"));
    expect(
      signLnurl(
        master,
        "https://example.com/path?tag=login&k1=e2af6254a8df433264fa23f67eb8188635d15ce883e8fc020989d5f82ae6f11e",
      ),
    ).toBe(
      "https://example.com/path?tag=login&k1=e2af6254a8df433264fa23f67eb8188635d15ce883e8fc020989d5f82ae6f11e&sig=3045022100a75df468de452e618edb8030016eb0894204655c7d93ece1be007fcf36843522022048bc2f00a0a5a30601d274b49cfaf9ef4c76176e5401d0dfb195f5d6ab8ab4c4&key=02d9eb1b467517d685e3b5439082c14bb1a2c9ae672df4d9046d208c193a5846e0",
    );
  });
});
