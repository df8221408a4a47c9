import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

// Written from the Rust client's signature provider, step by step, and kept
// independent of the server's code so that the two check each other.
const SALT = new TextEncoder().encode(
  "VSS Signature Authorizer Signing Salt Constant..................",
);

/** A client identity: a secp256k1 key pair. */
export interface TestSigner {
  readonly secretKey: Uint8Array;
  /** Compressed public key, lowercase hex: the identity the server sees. */
  readonly publicKeyHex: string;
  /** The Authorization header the Rust client sends at `timeSecs`. */
  header(timeSecs?: number): string;
}

/** A fresh random identity. */
export function createTestSigner(secretKey = secp256k1.utils.randomSecretKey()): TestSigner {
  const publicKey = secp256k1.getPublicKey(secretKey, true);
  const publicKeyHex = bytesToHex(publicKey);
  return {
    secretKey,
    publicKeyHex,
    header(timeSecs = Math.floor(Date.now() / 1000)) {
      const time = String(timeSecs);
      // bytes = SALT || serialized public key || time.to_string()
      const message = new Uint8Array([...SALT, ...publicKey, ...new TextEncoder().encode(time)]);
      const digest = sha256(message);
      // secp.sign_ecdsa(Message::from_digest(digest)) then serialize_compact():
      // RFC 6979 deterministic, low-S normalized, 64 bytes r || s.
      const signature = secp256k1.sign(digest, secretKey, { prehash: false, lowS: true });
      return `${publicKeyHex}${bytesToHex(signature)}${time}`;
    },
  };
}
