import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { HDKey } from "@scure/bip32";
import { createKeyObfuscator, type KeyObfuscator } from "./crypto.js";

const HARDENED = 0x8000_0000;

/** The keys LDK Node derives for VSS from its wallet seed. */
export interface LdkNodeVssKeys {
  /** The private key of m/877': the seed of everything below. */
  readonly vssSeed: Uint8Array;
  /** ChaCha20-Poly1305 key of stored values. */
  readonly dataKey: Uint8Array;
  /** Master key of the key obfuscation. */
  readonly obfuscationKey: Uint8Array;
  /** The secp256k1 key of signature authentication (m/877'/139'). */
  readonly signingKey: Uint8Array;
  /** The LUD-05 parent key of LNURL-auth (m/877'/138'). */
  readonly lnurlParent: HDKey;
}

/**
 * Derives, from LDK Node's 64-byte wallet seed, the keys it uses for VSS
 * (BIP32 m/877', then HMAC-SHA256 steps), so a TypeScript tool can read and
 * write what an LDK Node stored.
 */
export function deriveLdkNodeVssKeys(seed: Uint8Array): LdkNodeVssKeys {
  const vss = HDKey.fromMasterSeed(seed).deriveChild(877 + HARDENED);
  const vssSeed = vss.privateKey;
  if (vssSeed === null) throw new Error("no private key at m/877'");
  const mac = (key: Uint8Array, message: Uint8Array) => hmac(sha256, key, message);
  const prk = mac(utf8ToBytes("pseudo_random_key"), vssSeed);
  const dataKey = mac(utf8ToBytes("data_encryption_key"), prk);
  const obfuscationKey = mac(concatBytes(dataKey, utf8ToBytes("obfuscation_key")), prk);
  const signingKey = vss.deriveChild(139 + HARDENED).privateKey;
  if (signingKey === null) throw new Error("no private key at m/877'/139'");
  return {
    vssSeed,
    dataKey,
    obfuscationKey,
    signingKey,
    lnurlParent: vss.deriveChild(138 + HARDENED),
  };
}

/**
 * LDK Node's stored key for (primary namespace, secondary namespace, key),
 * schema V1: obfuscate(primary#secondary) # obfuscate(key).
 */
export function ldkStoredKey(
  obfuscator: KeyObfuscator,
  primaryNamespace: string,
  secondaryNamespace: string,
  key: string,
): string {
  return `${obfuscator.obfuscate(`${primaryNamespace}#${secondaryNamespace}`)}#${obfuscator.obfuscate(key)}`;
}

/** Splits a V1 stored key back into its namespaces and key. */
export function parseLdkStoredKey(
  obfuscator: KeyObfuscator,
  storedKey: string,
): { primaryNamespace: string; secondaryNamespace: string; key: string } {
  const [namespaces, key, ...rest] = storedKey.split("#");
  if (namespaces === undefined || key === undefined || rest.length > 0) {
    throw new Error(`not an LDK Node V1 stored key: ${storedKey}`);
  }
  const plain = obfuscator.deobfuscate(namespaces);
  const cut = plain.indexOf("#");
  if (cut === -1) throw new Error(`not an LDK Node V1 stored key: ${storedKey}`);
  return {
    primaryNamespace: plain.slice(0, cut),
    secondaryNamespace: plain.slice(cut + 1),
    key: obfuscator.deobfuscate(key),
  };
}

/** The obfuscator LDK Node uses for `seed`. */
export function ldkNodeObfuscator(seed: Uint8Array): KeyObfuscator {
  return createKeyObfuscator(deriveLdkNodeVssKeys(seed).obfuscationKey);
}
