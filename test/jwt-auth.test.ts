import { createHmac, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../gen/vss/vss_pb.js";
import type { App } from "../src/app.js";
import { ConfigError, loadConfig } from "../src/config.js";
import { BinaryCallError, createBinaryClient } from "./support/binary-client.js";
import { startServer } from "./support/server.js";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const otherRsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const ed = generateKeyPairSync("ed25519");
const pem = (key: KeyObject, type: "spki" | "pkcs1" = "spki") =>
  key.export({ type, format: "pem" }).toString();
const now = () => Math.floor(Date.now() / 1000);
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

async function token(
  claims: Record<string, unknown>,
  key: KeyObject = rsa.privateKey,
  alg = "RS256",
): Promise<string> {
  return new SignJWT({ exp: now() + 600, ...claims }).setProtectedHeader({ alg }).sign(key);
}

describe("JWT authentication", () => {
  let app: App;
  beforeAll(async () => {
    app = await startServer(
      { kind: "embedded", dataDir: "memory://" },
      { VSS_AUTH: "jwt", VSS_JWT_RSA_PEM: pem(rsa.publicKey).replace(/\n/g, "\\n") },
    );
  });
  afterAll(() => app?.close());

  const as = (header: string | undefined) => createBinaryClient(app.url, () => header);
  /** "ok", or the message of the AUTH failure (asserting it is one). */
  const attempt = async (header: string | undefined) => {
    try {
      await as(header).putObjects({
        storeId: "s",
        transactionItems: [{ key: "k", version: -1n, value: new Uint8Array([1]) }],
      });
      return "ok";
    } catch (error) {
      if (!(error instanceof BinaryCallError)) throw error;
      expect(error.status).toBe(401);
      expect(error.errorCode).toBe(ErrorCode.AUTH_EXCEPTION);
      return error.message;
    }
  };

  it("accepts an RS256 token and uses its sub as the identity", async () => {
    const alice = `Bearer ${await token({ sub: "alice" })}`;
    await as(alice).putObjects({
      storeId: "s",
      transactionItems: [{ key: "mine", version: 0n, value: new Uint8Array([7]) }],
    });
    expect((await as(alice).getObject({ storeId: "s", key: "mine" })).value?.version).toBe(1n);
    const bob = `Bearer ${await token({ sub: "bob" })}`;
    await expect(as(bob).getObject({ storeId: "s", key: "mine" })).rejects.toMatchObject({
      status: 404,
    });
  });

  it("refuses a missing header, a missing Bearer and garbage", async () => {
    expect(await attempt(undefined)).toMatch(/missing Authorization header/);
    expect(await attempt(await token({ sub: "x" }))).toMatch(/malformed Authorization header/);
    expect(await attempt("Bearer not-a-jwt")).toMatch(/malformed Authorization header/);
    expect(await attempt("Bearer aaaa.bbbb.cccc")).toMatch(/malformed token/);
  });

  it("refuses an expired token, and honours the 60 s leeway", async () => {
    expect(await attempt(`Bearer ${await token({ sub: "x", exp: now() - 120 })}`)).toMatch(
      /expired/,
    );
    expect(await attempt(`Bearer ${await token({ sub: "x", exp: now() - 30 })}`)).toBe("ok");
  });

  it("refuses a token without exp or without sub", async () => {
    const noExp = await new SignJWT({ sub: "x" })
      .setProtectedHeader({ alg: "RS256" })
      .sign(rsa.privateKey);
    expect(await attempt(`Bearer ${noExp}`)).toMatch(/exp/);
    expect(await attempt(`Bearer ${await token({})}`)).toMatch(/sub/);
    expect(await attempt(`Bearer ${await token({ sub: "x".repeat(121) })}`)).toMatch(/sub/);
  });

  it("refuses a token that is not valid yet (nbf)", async () => {
    expect(await attempt(`Bearer ${await token({ sub: "x", nbf: now() + 600 })}`)).toMatch(
      /not yet valid/,
    );
  });

  it("refuses a token signed by another key", async () => {
    expect(await attempt(`Bearer ${await token({ sub: "x" }, otherRsa.privateKey)}`)).toMatch(
      /invalid token signature/,
    );
  });

  it("refuses alg none", async () => {
    const unsigned = `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ sub: "x", exp: now() + 600 })}.`;
    expect(await attempt(`Bearer ${unsigned}`)).toMatch(/algorithm not allowed/);
  });

  it("refuses HS256 signed with the public key's bytes as the secret", async () => {
    const head = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ sub: "x", exp: now() + 600 })}`;
    const mac = createHmac("sha256", pem(rsa.publicKey)).update(head).digest("base64url");
    expect(await attempt(`Bearer ${head}.${mac}`)).toMatch(/algorithm not allowed/);
  });

  it("refuses a token with an audience when none is configured", async () => {
    expect(await attempt(`Bearer ${await token({ sub: "x", aud: "somewhere" })}`)).toMatch(/aud/);
  });

  it("writes nothing for a refused token", async () => {
    const expired = `Bearer ${await token({ sub: "carol", exp: now() - 600 })}`;
    await expect(
      as(expired).putObjects({
        storeId: "s",
        transactionItems: [{ key: "k", version: 0n, value: new Uint8Array() }],
      }),
    ).rejects.toBeInstanceOf(BinaryCallError);
    const carol = `Bearer ${await token({ sub: "carol" })}`;
    expect((await as(carol).listKeyVersions({ storeId: "s" })).keyVersions).toEqual([]);
  });
});

describe("JWT settings", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "vss-jwt-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const withServer = async (env: Record<string, string>, body: (app: App) => Promise<void>) => {
    const app = await startServer(
      { kind: "embedded", dataDir: "memory://" },
      { VSS_AUTH: "jwt", ...env },
    );
    try {
      await body(app);
    } finally {
      await app.close();
    }
  };
  const works = (app: App, header: string) =>
    createBinaryClient(app.url, () => header).listKeyVersions({ storeId: "s" });

  it("accepts an RSA key in PKCS#1 PEM, from a file", async () => {
    const file = join(dir, "rsa-pkcs1.pem");
    await writeFile(file, pem(rsa.publicKey, "pkcs1"));
    await withServer({ VSS_JWT_RSA_PEM: file }, async (app) => {
      await works(app, `Bearer ${await token({ sub: "x" })}`);
    });
  });

  it("accepts ES256 and EdDSA keys from VSS_JWT_PUBLIC_KEY_PEM", async () => {
    await withServer({ VSS_JWT_PUBLIC_KEY_PEM: pem(ec.publicKey) }, async (app) => {
      await works(app, `Bearer ${await token({ sub: "x" }, ec.privateKey, "ES256")}`);
      await expect(works(app, `Bearer ${await token({ sub: "x" })}`)).rejects.toMatchObject({
        status: 401,
      });
    });
    await withServer({ VSS_JWT_PUBLIC_KEY_PEM: pem(ed.publicKey) }, async (app) => {
      await works(app, `Bearer ${await token({ sub: "x" }, ed.privateKey, "EdDSA")}`);
    });
  });

  it("accepts keys from a JWKS file", async () => {
    const file = join(dir, "jwks.json");
    const jwk = { ...(await exportJWK(ec.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    await writeFile(file, JSON.stringify({ keys: [jwk] }));
    await withServer({ VSS_JWT_JWKS: file }, async (app) => {
      const signed = await new SignJWT({ sub: "x", exp: now() + 600 })
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .sign(ec.privateKey);
      await works(app, `Bearer ${signed}`);
    });
  });

  it("requires the configured audience and issuer", async () => {
    await withServer(
      {
        VSS_JWT_RSA_PEM: pem(rsa.publicKey),
        VSS_JWT_AUDIENCE: "vss",
        VSS_JWT_ISSUER: "https://login.example",
      },
      async (app) => {
        await works(
          app,
          `Bearer ${await token({ sub: "x", aud: "vss", iss: "https://login.example" })}`,
        );
        for (const claims of [
          { sub: "x", aud: "other", iss: "https://login.example" },
          { sub: "x", iss: "https://login.example" },
          { sub: "x", aud: "vss", iss: "https://evil.example" },
        ]) {
          await expect(works(app, `Bearer ${await token(claims)}`)).rejects.toMatchObject({
            status: 401,
          });
        }
      },
    );
  });

  it("refuses at startup an RSA key under 2048 bits, naming the variable", () => {
    const small = generateKeyPairSync("rsa", { modulusLength: 1024 });
    expect(() => loadConfig({ VSS_AUTH: "jwt", VSS_JWT_RSA_PEM: pem(small.publicKey) })).toThrow(
      /^VSS_JWT_RSA_PEM: RSA keys must have at least 2048 bits/,
    );
  });

  it("refuses at startup jwt mode without any key, and an unreadable key", () => {
    expect(() => loadConfig({ VSS_AUTH: "jwt" })).toThrow(ConfigError);
    expect(() => loadConfig({ VSS_AUTH: "jwt", VSS_JWT_RSA_PEM: "/nonexistent.pem" })).toThrow(
      /^VSS_JWT_RSA_PEM: /,
    );
    expect(() =>
      loadConfig({
        VSS_AUTH: "jwt",
        VSS_JWT_PUBLIC_KEY_PEM:
          "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----",
      }),
    ).toThrow(/^VSS_JWT_PUBLIC_KEY_PEM: /);
  });
});
