import { secp256k1 } from "@noble/curves/secp256k1.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { HDKey } from "@scure/bip32";

// The Rust client's LNURL-auth JWT provider, step by step (LUD-04/LUD-05):
// m/138' is the parent key, m/138'/0 the hashing key; the linking key is the
// parent's child at the four big-endian u32 of HMAC-SHA256(hashing key, domain).
const HARDENED = 0x8000_0000;

/** A wallet that logs in with LNURL-auth, as the Rust client does. */
export interface LnurlWallet {
  /** The linking key for `domain`, compressed, hex: the identity the server sees. */
  linkingKeyHex(domain: string): string;
  /** The LNURL with `sig` and `key` appended. */
  sign(lnurl: string): string;
  /** GET the LNURL from `url`, sign it, GET it; the token, or an error with the reason. */
  login(url: string): Promise<string>;
}

/** A wallet whose LNURL-auth keys come from `seed`, under m/138' as in LnurlAuthToJwtProvider::new. */
export function createLnurlWallet(seed: Uint8Array): LnurlWallet {
  return createLnurlWalletFromParent(HDKey.fromMasterSeed(seed).deriveChild(138 + HARDENED));
}

/** A wallet with the given LUD-05 parent key (the Rust client's sign_lnurl takes it directly). */
export function createLnurlWalletFromParent(parent: HDKey): LnurlWallet {
  const hashing = parent.deriveChild(0);
  const linkingKey = (domain: string) => {
    const digest = hmac(sha256, hashing.privateKey as Uint8Array, new TextEncoder().encode(domain));
    const view = new DataView(digest.buffer, digest.byteOffset, 16);
    let key = parent;
    for (let i = 0; i < 4; i++) key = key.deriveChild(view.getUint32(i * 4));
    return key;
  };
  const sign = (lnurl: string) => {
    const url = new URL(lnurl);
    // Url::domain() is None for IP addresses: the Rust client refuses those.
    if (/^[0-9.]+$|^\[/.test(url.hostname)) throw new Error(`invalid lnurl: ${lnurl}`);
    const k1 = url.searchParams.get("k1");
    if (k1 === null || !/^[0-9a-fA-F]{64}$/.test(k1)) throw new Error(`invalid lnurl: ${lnurl}`);
    const key = linkingKey(url.hostname);
    const sig = secp256k1.sign(hexToBytes(k1), key.privateKey as Uint8Array, {
      prehash: false,
      lowS: true,
      format: "der",
    });
    url.searchParams.append("sig", bytesToHex(sig));
    url.searchParams.append("key", bytesToHex(key.publicKey as Uint8Array));
    return url.toString();
  };
  return {
    linkingKeyHex: (domain) => bytesToHex(linkingKey(domain).publicKey as Uint8Array),
    sign,
    async login(url) {
      const lnurl = await (await fetch(url)).text();
      const response = (await (await fetch(sign(lnurl))).json()) as {
        token?: string;
        reason?: string;
      };
      if (response.token !== undefined) return response.token;
      throw new Error(`LNURL Auth failed, reason is: ${response.reason ?? "(none)"}`);
    },
  };
}
