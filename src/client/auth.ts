import { secp256k1 } from "@noble/curves/secp256k1.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import type { HDKey } from "@scure/bip32";

/** Supplies the headers that authenticate one call. */
export type AuthProvider = () => Promise<Record<string, string>>;

const SIGNING_SALT = utf8ToBytes(
  "VSS Signature Authorizer Signing Salt Constant..................",
);

/**
 * The Rust client's signature scheme: the compressed public key, a compact
 * ECDSA signature of SHA-256(salt || public key || time), and the time in
 * decimal seconds. Signing is deterministic, so one header serves a second.
 */
export function signatureAuth(secretKey: Uint8Array): AuthProvider {
  const publicKey = secp256k1.getPublicKey(secretKey, true);
  let cached: { secs: number; header: string } | undefined;
  return async () => {
    const secs = Math.floor(Date.now() / 1000);
    if (cached?.secs !== secs) {
      const time = String(secs);
      const digest = sha256(concatBytes(SIGNING_SALT, publicKey, utf8ToBytes(time)));
      const signature = secp256k1.sign(digest, secretKey, { prehash: false, lowS: true });
      cached = { secs, header: `${bytesToHex(publicKey)}${bytesToHex(signature)}${time}` };
    }
    return { authorization: cached.header };
  };
}

/** A bearer token, fixed or fetched each time. */
export function jwtAuth(token: string | (() => Promise<string>)): AuthProvider {
  return async () => ({
    authorization: `Bearer ${typeof token === "string" ? token : await token()}`,
  });
}

/** Options of {@link lnurlAuth}. */
export interface LnurlAuthOptions {
  /** Where to GET the LNURL (e.g. https://vss.example/vss/lnurl-auth). */
  readonly url: string;
  /** The LUD-05 parent key (LDK Node: m/877'/138'; the Rust client: m/138' of its seed). */
  readonly parentKey: HDKey;
  readonly fetch?: typeof fetch;
}

const REFRESH_BEFORE_EXPIRY_MS = 60_000;

/**
 * LNURL-auth as the Rust client's LnurlAuthToJwtProvider does it: GET the
 * LNURL, sign its k1 with the linking key LUD-05 derives for the URL's
 * domain, GET it with `sig` and `key`, and use the returned JWT until a
 * minute before its `exp`.
 */
export function lnurlAuth(options: LnurlAuthOptions): AuthProvider {
  const get = options.fetch ?? fetch;
  let cached: { token: string; expiresAt: number } | undefined;
  const login = async () => {
    const signed = signLnurl(options.parentKey, await (await get(options.url)).text());
    const answer = (await (await get(signed)).json()) as {
      token?: string;
      reason?: string;
    };
    if (answer.token === undefined)
      throw new Error(`LNURL-auth failed: ${answer.reason ?? "no token"}`);
    const payload = JSON.parse(
      new TextDecoder().decode(base64UrlDecode(answer.token.split(".")[1] ?? "")),
    ) as { exp?: number };
    cached = { token: answer.token, expiresAt: (payload.exp ?? 0) * 1000 };
    return answer.token;
  };
  return async () => {
    const token =
      cached !== undefined && cached.expiresAt - REFRESH_BEFORE_EXPIRY_MS > Date.now()
        ? cached.token
        : await login();
    return { authorization: `Bearer ${token}` };
  };
}

/**
 * The LUD-05 linking key for `domain`: the parent's child at the four
 * big-endian u32 of HMAC-SHA256(hashing key m/0 of the parent, domain).
 */
export function lnurlLinkingKey(parentKey: HDKey, domain: string): HDKey {
  const hashing = parentKey.deriveChild(0);
  const digest = hmac(sha256, hashing.privateKey as Uint8Array, utf8ToBytes(domain));
  const view = new DataView(digest.buffer, digest.byteOffset, 16);
  let linking = parentKey;
  for (let i = 0; i < 4; i++) linking = linking.deriveChild(view.getUint32(i * 4));
  return linking;
}

/**
 * Signs an LNURL-auth URL as the Rust client does (LUD-04/LUD-05): the k1
 * signed (DER) by the linking key derived from `parentKey` for the URL's
 * domain, appended as `sig` and `key`.
 */
export function signLnurl(parentKey: HDKey, lnurlText: string): string {
  const lnurl = new URL(lnurlText);
  if (/^[0-9.]+$|^\[/.test(lnurl.hostname)) {
    throw new Error("LNURL-auth needs a domain name, not an IP address");
  }
  const k1 = lnurl.searchParams.get("k1") ?? "";
  if (!/^[0-9a-fA-F]{64}$/.test(k1)) throw new Error("the LNURL has no valid k1");
  const linking = lnurlLinkingKey(parentKey, lnurl.hostname);
  const sig = secp256k1.sign(hexToBytes(k1), linking.privateKey as Uint8Array, {
    prehash: false,
    lowS: true,
    format: "der",
  });
  lnurl.searchParams.append("sig", bytesToHex(sig));
  lnurl.searchParams.append("key", bytesToHex(linking.publicKey as Uint8Array));
  return lnurl.toString();
}

function base64UrlDecode(s: string): Uint8Array {
  const base64 = s.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
