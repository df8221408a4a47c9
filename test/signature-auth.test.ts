import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../gen/vss/vss_pb.js";
import type { App } from "../src/app.js";
import { createSignatureAuthorizer } from "../src/auth/signature-authorizer.js";
import { BinaryCallError, createBinaryClient } from "./support/binary-client.js";
import { createTestSigner } from "./support/rust-signature.js";
import { startServer } from "./support/server.js";

const bytes = (s: string) => new TextEncoder().encode(s);
const now = () => Math.floor(Date.now() / 1000);
const N = secp256k1.Point.CURVE().n;

describe("signature authentication", () => {
  let app: App;
  beforeAll(async () => {
    app = await startServer({ kind: "embedded", dataDir: "memory://" });
  });
  afterAll(() => app?.close());

  /** The outcome of a put made with `header`, and whether anything was written. */
  const attempt = async (header: string | undefined) => {
    const client = createBinaryClient(app.url, () => header);
    try {
      await client.putObjects({
        storeId: "s",
        transactionItems: [{ key: "k", version: 0n, value: bytes("x") }],
      });
      return "ok";
    } catch (error) {
      if (!(error instanceof BinaryCallError)) throw error;
      expect(error.status).toBe(401);
      expect(error.errorCode).toBe(ErrorCode.AUTH_EXCEPTION);
      return error.message;
    }
  };

  it("accepts a header built exactly as the Rust client builds it", async () => {
    const signer = createTestSigner();
    const client = createBinaryClient(app.url, () => signer.header());
    await client.putObjects({
      storeId: "s",
      transactionItems: [{ key: "k", version: 0n, value: bytes("x") }],
    });
    expect((await client.getObject({ storeId: "s", key: "k" })).value?.version).toBe(1n);
  });

  it("refuses a missing header", async () => {
    expect(await attempt(undefined)).toMatch(/missing Authorization header/);
    expect(await attempt("")).toMatch(/missing Authorization header/);
  });

  it("refuses a header that is not hex, has the wrong length or carries a bad time", async () => {
    const good = createTestSigner().header();
    const cases = [
      `zz${good.slice(2)}`,
      good.slice(0, 150),
      `${good.slice(0, 194)}`,
      `${good}x`,
      `${good.slice(0, 194)}-5`,
      `${good.slice(0, 194)}12.5`,
      `Bearer ${good}`,
    ];
    for (const header of cases)
      expect(await attempt(header)).toMatch(/malformed Authorization header/);
  });

  it("refuses a signature made by another key than the one in the header", async () => {
    const alice = createTestSigner();
    const mallory = createTestSigner();
    const forged = `${alice.publicKeyHex}${mallory.header().slice(66)}`;
    expect(await attempt(forged)).toMatch(/invalid signature/);
  });

  it("refuses a signature replayed under another public key", async () => {
    const alice = createTestSigner();
    const bob = createTestSigner();
    const replayed = `${bob.publicKeyHex}${alice.header().slice(66)}`;
    expect(await attempt(replayed)).toMatch(/invalid signature/);
  });

  it("refuses a signature whose time was changed after signing", async () => {
    const signer = createTestSigner();
    const header = signer.header(now());
    const retimed = `${header.slice(0, 194)}${Number(header.slice(194)) + 1}`;
    expect(await attempt(retimed)).toMatch(/invalid signature/);
  });

  it("refuses signing times more than 24 hours in the past or the future", async () => {
    const signer = createTestSigner();
    expect(await attempt(signer.header(now() - 86_400 - 60))).toMatch(
      /outside the accepted window/,
    );
    expect(await attempt(signer.header(now() + 86_400 + 60))).toMatch(
      /outside the accepted window/,
    );
    expect(await attempt(signer.header(now() - 86_400 + 60))).toBe("ok");
  });

  it("refuses a high-S signature, as libsecp256k1 does", async () => {
    const signer = createTestSigner();
    const header = signer.header();
    const sig = hexToBytes(header.slice(66, 194));
    const s = BigInt(`0x${bytesToHex(sig.slice(32))}`);
    const highS = hexToBytes((N - s).toString(16).padStart(64, "0"));
    const malleated = `${header.slice(0, 66)}${bytesToHex(sig.slice(0, 32))}${bytesToHex(highS)}${header.slice(194)}`;
    expect(await attempt(malleated)).toMatch(/invalid signature/);
  });

  it("refuses a public key that is not on the curve", async () => {
    const header = createTestSigner().header();
    expect(await attempt(`02${"00".repeat(32)}${header.slice(66)}`)).toMatch(/invalid signature/);
  });

  it("refuses a public key that is not compressed, and r or s of zero or past the group order", async () => {
    const header = createTestSigner().header();
    const [key, r, s, time] = [
      header.slice(0, 66),
      header.slice(66, 130),
      header.slice(130, 194),
      header.slice(194),
    ];
    const n = N.toString(16).padStart(64, "0");
    const zero = "00".repeat(32);
    for (const prefix of ["04", "05", "00"]) {
      expect(await attempt(`${prefix}${key.slice(2)}${r}${s}${time}`)).toMatch(/invalid signature/);
    }
    for (const [badR, badS] of [
      [zero, s],
      [r, zero],
      [n, s],
      ["ff".repeat(32), s],
    ]) {
      expect(await attempt(`${key}${badR}${badS}${time}`)).toMatch(/invalid signature/);
    }
    expect(await attempt(header)).toBe("ok");
  });

  it("uses the public key hex in lowercase as the identity, whatever the header's case", async () => {
    const signer = createTestSigner();
    const lower = createBinaryClient(app.url, () => signer.header());
    const upper = createBinaryClient(app.url, () => {
      const h = signer.header();
      return `${h.slice(0, 66).toUpperCase()}${h.slice(66)}`;
    });
    await lower.putObjects({
      storeId: "s",
      transactionItems: [{ key: "case", version: 0n, value: bytes("x") }],
    });
    expect((await upper.getObject({ storeId: "s", key: "case" })).value?.version).toBe(1n);
  });

  it("writes nothing for a refused request", async () => {
    const signer = createTestSigner();
    const stale = signer.header(now() - 3 * 86_400);
    const refused = createBinaryClient(app.url, () => stale);
    await expect(
      refused.putObjects({
        storeId: "s",
        transactionItems: [{ key: "k", version: 0n, value: bytes("x") }],
      }),
    ).rejects.toBeInstanceOf(BinaryCallError);
    const valid = createBinaryClient(app.url, () => signer.header());
    expect((await valid.listKeyVersions({ storeId: "s" })).keyVersions).toEqual([]);
  });
});

describe("authentication settings", () => {
  it("honours VSS_SIGNATURE_MAX_SKEW_SECS", async () => {
    const app = await startServer(
      { kind: "embedded", dataDir: "memory://" },
      { VSS_SIGNATURE_MAX_SKEW_SECS: "60" },
    );
    try {
      const signer = createTestSigner();
      const old = createBinaryClient(app.url, () => signer.header(now() - 120));
      await expect(old.listKeyVersions({ storeId: "s" })).rejects.toMatchObject({ status: 401 });
      const fresh = createBinaryClient(app.url, () => signer.header());
      await fresh.listKeyVersions({ storeId: "s" });
    } finally {
      await app.close();
    }
  });

  it("with VSS_AUTH=none, lets every caller in as one shared identity", async () => {
    const app = await startServer({ kind: "embedded", dataDir: "memory://" }, { VSS_AUTH: "none" });
    try {
      const anonymous = createBinaryClient(app.url, () => undefined);
      const other = createBinaryClient(app.url, () => "anything at all");
      await anonymous.putObjects({
        storeId: "s",
        transactionItems: [{ key: "k", version: 0n, value: bytes("x") }],
      });
      expect((await other.getObject({ storeId: "s", key: "k" })).value?.version).toBe(1n);
    } finally {
      await app.close();
    }
  });

  it("refuses an identity that is empty or longer than 120 characters, whatever the authorizer", async () => {
    for (const identity of ["", "x".repeat(121)]) {
      const app = await startServer(
        { kind: "embedded", dataDir: "memory://" },
        {},
        {
          authorizer: { authorize: async () => identity },
        },
      );
      try {
        const client = createBinaryClient(app.url, () => undefined);
        await expect(client.listKeyVersions({ storeId: "s" })).rejects.toMatchObject({
          status: 401,
        });
      } finally {
        await app.close();
      }
    }
  });

  it("rechecks the time window of a header it verified before", async () => {
    let clock = Date.now();
    const authorizer = createSignatureAuthorizer({ maxSkewSecs: 60, now: () => clock });
    const header = createTestSigner().header(Math.floor(clock / 1000));
    const headers = { get: () => header };
    const identity = await authorizer.authorize(headers);
    expect(await authorizer.authorize(headers)).toBe(identity);
    clock += 120_000;
    await expect(authorizer.authorize(headers)).rejects.toThrow(/outside the accepted window/);
  });
});
