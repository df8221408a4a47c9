import type { Authorizer } from "../core/authorizer.js";

/** The identity every caller shares when authentication is off. */
export const SHARED_IDENTITY = "unauthenticated";

/**
 * No authentication: every caller is the same user and sees the same data.
 * Only for local testing, and only when configured explicitly.
 */
export function createNoneAuthorizer(): Authorizer {
  return { authorize: async () => SHARED_IDENTITY };
}
