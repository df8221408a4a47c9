// The VSS client for TypeScript wallets: `import { createVssClient } from "vss-server-ts/client"`.
export {
  type AuthProvider,
  jwtAuth,
  type LnurlAuthOptions,
  lnurlAuth,
  signatureAuth,
  signLnurl,
} from "./auth.js";
export {
  createVssClient,
  type RetryOptions,
  type VssClient,
  VssClientError,
  type VssClientErrorKind,
  type VssClientOptions,
  type VssItem,
  type VssPage,
  type VssProtocol,
} from "./client.js";
export {
  CIPHER_FORMAT,
  createKeyObfuscator,
  decryptValue,
  encryptValue,
  type KeyObfuscator,
} from "./crypto.js";
export {
  deriveLdkNodeVssKeys,
  type LdkNodeVssKeys,
  ldkNodeObfuscator,
  ldkStoredKey,
  parseLdkStoredKey,
} from "./ldk-keys.js";
