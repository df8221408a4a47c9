import type { Logger } from "pino";
import type { AuthConfig } from "../config.js";
import type { Authorizer } from "../core/authorizer.js";
import type { ChallengeStore } from "../core/challenge-store.js";
import { createJwtAuthorizer } from "./jwt-authorizer.js";
import { createLnurlAuth, type LnurlAuth, loadSigningKey } from "./lnurl-auth.js";
import { createNoneAuthorizer } from "./none-authorizer.js";
import { createSignatureAuthorizer } from "./signature-authorizer.js";

/** The authentication a server runs with. */
export interface Auth {
  readonly authorizer: Authorizer;
  /** The built-in LNURL-auth login, in `lnurl` mode only. */
  readonly lnurl?: LnurlAuth;
}

/** Builds the authentication `config` selects. */
export async function createAuth(
  config: AuthConfig,
  deps: { readonly challenges: ChallengeStore; readonly logger: Logger },
): Promise<Auth> {
  switch (config.mode) {
    case "signature":
      return { authorizer: createSignatureAuthorizer({ maxSkewSecs: config.maxSkewSecs }) };
    case "jwt":
      return { authorizer: createJwtAuthorizer(config.jwt) };
    case "lnurl": {
      const lnurl = createLnurlAuth({
        challenges: deps.challenges,
        signingKey: await loadSigningKey(config.lnurl.signingKey),
        tokenTtlSecs: config.lnurl.tokenTtlSecs,
        challengeTtlSecs: config.lnurl.challengeTtlSecs,
      });
      // Tokens this server issues, and any the operator's other keys sign.
      const jwt = { ...config.jwt, publicKeys: [lnurl.publicKey, ...config.jwt.publicKeys] };
      return { authorizer: createJwtAuthorizer(jwt), lnurl };
    }
    case "none":
      deps.logger.warn(
        "VSS_AUTH=none: authentication is off and all callers share one identity; use only for local testing",
      );
      return { authorizer: createNoneAuthorizer() };
  }
}
