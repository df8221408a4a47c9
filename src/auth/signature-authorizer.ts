import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
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

/** SHA-256 over the salt, the public key and the decimal time, as the client signs it. */
export function signatureDigest(publicKey: Uint8Array, time: string): Uint8Array {
  const salt = utf8ToBytes(SIGNING_SALT);
  const timeBytes = utf8ToBytes(time);
  const message = new Uint8Array(salt.length + publicKey.length + timeBytes.length);
  message.set(salt, 0);
  message.set(publicKey, salt.length);
  message.set(timeBytes, salt.length + publicKey.length);
  return sha256(message);
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
      const publicKey = hexToBytes(keyHex);
      let valid = false;
      try {
        valid = secp256k1.verify(hexToBytes(sigHex), signatureDigest(publicKey, time), publicKey, {
          prehash: false,
          lowS: true,
          format: "compact",
        });
      } catch {
        valid = false; // not a point on the curve, or a signature out of range
      }
      if (!valid) throw authError("invalid signature");
      const identity = keyHex.toLowerCase();
      if (verified.size >= cacheSize) {
        // Forget the oldest entry (Maps iterate in insertion order).
        const oldest = verified.keys().next().value;
        if (oldest !== undefined) verified.delete(oldest);
      }
      verified.set(header, identity);
      return identity;
    },
  };
}
