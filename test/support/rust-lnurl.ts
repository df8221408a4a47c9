import { bytesToHex } from "@noble/hashes/utils.js";
import { HDKey } from "@scure/bip32";
import { lnurlLinkingKey, signLnurl } from "../../src/client/auth.js";

// The Rust client's LNURL-auth JWT provider, step by step (LUD-04/LUD-05):
// m/138' is the parent key; the signing itself is the client library's,
// which matches the Rust client's own test vector (see test/client.test.ts
// and test/lnurl-auth.test.ts).
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
  const sign = (lnurl: string) => signLnurl(parent, lnurl);
  return {
    linkingKeyHex: (domain) => bytesToHex(lnurlLinkingKey(parent, domain).publicKey as Uint8Array),
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
