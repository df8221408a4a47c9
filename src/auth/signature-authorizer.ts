import { createPublicKey, type KeyObject, verify } from "node:crypto";
import type { Authorizer } from "../core/authorizer.js";
import { authError } from "../core/errors.js";

/** The 64-byte constant the Rust client's signature provider hashes first. */
export const SIGNING_SALT = "VSS Signature Authorizer Signing Salt Constant..................";

const PUBKEY_HEX = 66;
const SIGNATURE_HEX = 128;
const HEADER = /^([0-9a-fA-F]{66})([0-9a-fA-F]{128})([0-9]{1,20})$/;

/** Options of {@link createSignatureAuthorizer}. */
export interface SignatureAuthorizerOptions {
  /** Largest accepted distance, in seconds, between the signing time and now. */
  readonly maxSkewSecs: number;
  /** The clock, in milliseconds since the epoch (tests move it). */
  readonly now?: () => number;
  /** Verified headers remembered, so a client's repeated header costs no new verification. */
  readonly cacheSize?: number;
}

const SALT = Buffer.from(SIGNING_SALT, "utf8");
/** DER of a secp256k1 SubjectPublicKeyInfo up to its 33-byte compressed point. */
const SPKI_PREFIX = Buffer.from("3036301006072a8648ce3d020106052b8104000a032200", "hex");
/** Half the secp256k1 group order: a larger s is the "high-S" twin libsecp256k1 refuses. */
const HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
/** Public keys kept parsed (parsing costs as much as a verification). */
const KEY_CACHE_SIZE = 10_000;

/**
 * Whether `signature` (compact r || s, low S) signs SHA-256(salt || public
 * key || time) under `publicKey` (33-byte compressed). OpenSSL, through
 * node:crypto, verifies several times faster than a JavaScript
 * implementation, which matters when a flood of bad headers must be refused.
 */
function verifySignature(key: KeyObject, publicKey: Buffer, signature: Buffer, time: string) {
  if (BigInt(`0x${signature.subarray(32).toString("hex")}`) > HALF_ORDER) return false;
  const message = Buffer.concat([SALT, publicKey, Buffer.from(time, "utf8")]);
  return verify("sha256", message, { key, dsaEncoding: "ieee-p1363" }, signature);
}

/**
 * The Rust client's "sigs" scheme: `Authorization` is the compressed public
 * key (hex), a compact ECDSA signature (hex) and the signing time (decimal
 * UNIX seconds). The identity is the public key hex in lowercase. High-S
 * signatures are refused, as libsecp256k1 refuses them.
 */
export function createSignatureAuthorizer(options: SignatureAuthorizerOptions): Authorizer {
  const now = options.now ?? Date.now;
  // The Rust client signs once per second (the time has second resolution
  // and signing is deterministic), so its headers repeat. A header that
  // verified once verifies again: remember the good ones (never the bad), and
  // still check the time window on every use.
  const cacheSize = options.cacheSize ?? 10_000;
  const verified = new Map<string, string>();
  const keys = new Map<string, KeyObject>();
  /** The parsed key, or undefined if it is not a point of the curve. */
  const parseKey = (keyHex: string, publicKey: Buffer): KeyObject | undefined => {
    const known = keys.get(keyHex);
    if (known !== undefined) return known;
    if (publicKey[0] !== 0x02 && publicKey[0] !== 0x03) return undefined;
    let key: KeyObject;
    try {
      key = createPublicKey({
        key: Buffer.concat([SPKI_PREFIX, publicKey]),
        format: "der",
        type: "spki",
      });
    } catch {
      return undefined;
    }
    remember(keys, keyHex, key, KEY_CACHE_SIZE);
    return key;
  };
  return {
    async authorize(headers) {
      const header = headers.get("authorization");
      if (header === null || header === "") throw authError("missing Authorization header");
      const match = HEADER.exec(header);
      if (match === null) {
        throw authError(
          `malformed Authorization header: expected ${PUBKEY_HEX} hex characters of public key, ${SIGNATURE_HEX} of signature, then the decimal signing time`,
        );
      }
      const [, keyHex = "", sigHex = "", time = ""] = match;
      const nowSecs = Math.floor(now() / 1000);
      if (Math.abs(Number(time) - nowSecs) > options.maxSkewSecs) {
        throw authError("signing time outside the accepted window");
      }
      const known = verified.get(header);
      if (known !== undefined) return known;
      const identity = keyHex.toLowerCase();
      const publicKey = Buffer.from(keyHex, "hex");
      const key = parseKey(identity, publicKey);
      let valid = false;
      try {
        valid =
          key !== undefined && verifySignature(key, publicKey, Buffer.from(sigHex, "hex"), time);
      } catch {
        valid = false; // r or s out of range
      }
      if (!valid) throw authError("invalid signature");
      remember(verified, header, identity, cacheSize);
      return identity;
    },
  };
}

/** Adds to a bounded cache, forgetting the oldest entry (Maps keep insertion order). */
function remember<V>(cache: Map<string, V>, key: string, value: V, size: number): void {
  if (cache.size >= size) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(key, value);
}
