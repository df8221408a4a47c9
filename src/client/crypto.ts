import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { base64nopad } from "@scure/base";
import { PlaintextBlobSchema, StorableSchema } from "../../gen/vss/vss_pb.js";

// Client-side key obfuscation and value encryption, byte-compatible with the
// Rust VSS client (vss-client-ng) and LDK Node, as ../shared/spec/client-compat.md
// describes them. Everything here runs in Node and in browsers.

const TAG = 16;
const NONCE = 12;
const text = (s: string) => utf8ToBytes(s);
const mac = (key: Uint8Array, message: Uint8Array) => hmac(sha256, key, message);

/** Deterministic, reversible obfuscation of storage keys (prefix listing still works per key). */
export interface KeyObfuscator {
  obfuscate(key: string): string;
  /** The original key; throws if `obfuscated` was not made with this master key. */
  deobfuscate(obfuscated: string): string;
}

/** The key obfuscator of the Rust client for the 32-byte obfuscation master key `masterKey`. */
export function createKeyObfuscator(masterKey: Uint8Array): KeyObfuscator {
  if (masterKey.length !== 32) throw new Error("the obfuscation master key must be 32 bytes");
  const prk = mac(text("pseudo_random_key"), masterKey);
  const encryptionKey = mac(text("obfuscation_key"), prk);
  const hashingKey = mac(concatBytes(encryptionKey, text("hashing_key")), prk);
  // A synthetic nonce: 4 zero bytes, then 8 bytes of HMAC(material, hashing key).
  const nonceFor = (material: Uint8Array) =>
    concatBytes(new Uint8Array(4), mac(material, hashingKey).subarray(0, 8));
  const seal = (nonce: Uint8Array, plaintext: Uint8Array) =>
    chacha20poly1305(encryptionKey, nonce).encrypt(plaintext);
  const open = (nonce: Uint8Array, sealed: Uint8Array) =>
    chacha20poly1305(encryptionKey, nonce).decrypt(sealed);
  return {
    obfuscate(key) {
      const plain = text(key);
      const n1 = nonceFor(plain);
      const sealedKey = seal(n1, plain); // ciphertext || tag
      const ciphertext = sealedKey.subarray(0, sealedKey.length - TAG);
      const sealedNonce = seal(nonceFor(ciphertext), n1);
      return base64nopad.encode(concatBytes(sealedKey, sealedNonce));
    },
    deobfuscate(obfuscated) {
      const bytes = base64nopad.decode(obfuscated);
      if (bytes.length < TAG + NONCE + TAG) throw new Error("not an obfuscated key: too short");
      const sealedKey = bytes.subarray(0, bytes.length - NONCE - TAG);
      const sealedNonce = bytes.subarray(bytes.length - NONCE - TAG);
      const ciphertext = sealedKey.subarray(0, sealedKey.length - TAG);
      const n1 = open(nonceFor(ciphertext), sealedNonce);
      return new TextDecoder("utf-8", { fatal: true }).decode(open(n1, sealedKey));
    },
  };
}

/** The cipher name the Rust client writes into EncryptionMetadata. */
export const CIPHER_FORMAT = "ChaCha20Poly1305";

/**
 * Encrypts `value` at application version `version` into a serialized
 * Storable, with a random nonce, `dataKey` (32 bytes) and associated data
 * `aad` (LDK Node uses the full stored key).
 */
export function encryptValue(
  value: Uint8Array,
  version: bigint,
  dataKey: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const blob = toBinary(PlaintextBlobSchema, create(PlaintextBlobSchema, { value, version }));
  const nonce = randomBytes(NONCE);
  const sealed = chacha20poly1305(dataKey, nonce, aad).encrypt(blob);
  return toBinary(
    StorableSchema,
    create(StorableSchema, {
      data: sealed.subarray(0, sealed.length - TAG),
      encryptionMetadata: {
        cipherFormat: CIPHER_FORMAT,
        nonce,
        tag: sealed.subarray(sealed.length - TAG),
      },
    }),
  );
}

/** Reverses {@link encryptValue}; throws on a wrong key, wrong associated data or tampering. */
export function decryptValue(
  storable: Uint8Array,
  dataKey: Uint8Array,
  aad: Uint8Array,
): { value: Uint8Array; version: bigint } {
  const parsed = fromBinary(StorableSchema, storable);
  const meta = parsed.encryptionMetadata;
  if (meta === undefined || meta.cipherFormat !== CIPHER_FORMAT) {
    throw new Error(`unsupported cipher format: ${meta?.cipherFormat ?? "(none)"}`);
  }
  if (meta.nonce.length !== NONCE || meta.tag.length !== TAG)
    throw new Error("malformed encryption metadata");
  const blob = chacha20poly1305(dataKey, meta.nonce, aad).decrypt(
    concatBytes(parsed.data, meta.tag),
  );
  const plain = fromBinary(PlaintextBlobSchema, blob);
  return { value: plain.value, version: plain.version };
}
