import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { SignJWT } from "jose";
import type { LnurlConfig } from "../config.js";
import type { ChallengeStore } from "../core/challenge-store.js";
import { authError } from "../core/errors.js";
import { algorithmOf } from "./jwt-authorizer.js";

/** What a wallet sends back after signing a challenge (LUD-04). */
export interface LnurlLogin {
  readonly k1: string;
  /** DER-encoded ECDSA signature of k1, hex. */
  readonly sig: string;
  /** The linking key: a compressed secp256k1 public key, hex. */
  readonly key: string;
}

/** The built-in LNURL-auth login that issues this server's JWTs. */
export interface LnurlAuth {
  /** The public key that verifies issued tokens. */
  readonly publicKey: KeyObject;
  /** A fresh single-use challenge (k1, 32 bytes hex). */
  newChallenge(): Promise<string>;
  /** Checks a signed challenge and returns a JWT whose `sub` is the linking key. */
  login(login: LnurlLogin): Promise<string>;
}

/** Dependencies of {@link createLnurlAuth}. */
export interface LnurlAuthOptions {
  readonly challenges: ChallengeStore;
  readonly signingKey: KeyObject;
  readonly tokenTtlSecs: number;
  readonly challengeTtlSecs: number;
  readonly now?: () => number;
}

const HEX_32 = /^[0-9a-f]{64}$/i;
const HEX_PUBKEY = /^(02|03)[0-9a-f]{64}$/i;
const HEX_DER = /^30[0-9a-f]{10,142}$/i;

/**
 * LUD-04 login as the Rust client's LNURL-auth JWT provider performs it: a k1
 * is handed out, the wallet signs it with its linking key, and a valid
 * signature of an unused, unexpired k1 buys a JWT for that linking key.
 */
export function createLnurlAuth(options: LnurlAuthOptions): LnurlAuth {
  const now = options.now ?? Date.now;
  const publicKey = createPublicKey(options.signingKey);
  const alg = algorithmOf(publicKey);
  return {
    publicKey,
    async newChallenge() {
      const k1 = randomBytes(32).toString("hex");
      await options.challenges.issue(k1, new Date(now() + options.challengeTtlSecs * 1000));
      return k1;
    },
    async login({ k1, sig, key }) {
      if (!HEX_32.test(k1)) throw authError("k1 must be 32 bytes of hex");
      if (!HEX_PUBKEY.test(key))
        throw authError("key must be a compressed secp256k1 public key in hex");
      if (!HEX_DER.test(sig)) throw authError("sig must be a DER signature in hex");
      let valid = false;
      try {
        valid = secp256k1.verify(hexToBytes(sig), hexToBytes(k1), hexToBytes(key), {
          prehash: false,
          format: "der",
          lowS: true,
        });
      } catch {
        valid = false;
      }
      if (!valid) throw authError("invalid signature");
      // Only after the signature checks out, so strangers cannot burn challenges.
      if (!(await options.challenges.consume(k1.toLowerCase()))) {
        throw authError("unknown, expired or already used k1");
      }
      const nowSecs = Math.floor(now() / 1000);
      return new SignJWT({})
        .setProtectedHeader({ alg, typ: "JWT" })
        .setSubject(bytesToHex(hexToBytes(key)))
        .setIssuedAt(nowSecs)
        .setExpirationTime(nowSecs + options.tokenTtlSecs)
        .sign(options.signingKey);
    },
  };
}

/**
 * The configured signing key, or the one kept in the configured file: read
 * if it exists, else generated (RSA 2048, so the reference servers' RS256
 * authorizers accept the tokens too) and written with owner-only access.
 */
export async function loadSigningKey(config: LnurlConfig["signingKey"]): Promise<KeyObject> {
  if (config.kind === "configured") return config.key;
  try {
    return createPrivateKey(await readFile(config.path, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  await mkdir(dirname(config.path), { recursive: true });
  // Written aside, then linked into place: link fails if another instance
  // starting at once got there first, and a reader never sees half a key.
  const temporary = `${config.path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  await writeFile(temporary, pem, { mode: 0o600, flag: "wx" });
  try {
    await link(temporary, config.path);
    return privateKey;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return createPrivateKey(await readFile(config.path, "utf8"));
  } finally {
    await unlink(temporary);
  }
}
