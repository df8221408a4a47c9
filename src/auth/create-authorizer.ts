import type { Logger } from "pino";
import type { AuthConfig } from "../config.js";
import type { Authorizer } from "../core/authorizer.js";
import { createNoneAuthorizer } from "./none-authorizer.js";
import { createSignatureAuthorizer } from "./signature-authorizer.js";

/** The authorizer `config` selects. */
export function createAuthorizer(config: AuthConfig, logger: Logger): Authorizer {
  switch (config.mode) {
    case "signature":
      return createSignatureAuthorizer({ maxSkewSecs: config.maxSkewSecs });
    case "none":
      logger.warn(
        "VSS_AUTH=none: authentication is off and all callers share one identity; use only for local testing",
      );
      return createNoneAuthorizer();
  }
}
