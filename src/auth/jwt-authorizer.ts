import type { KeyObject } from "node:crypto";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import type { JwtConfig } from "../config.js";
import type { Authorizer } from "../core/authorizer.js";
import { authError, VssError } from "../core/errors.js";

/** The only algorithms accepted: asymmetric, never HMAC, never `none`. */
const ALGORITHMS = ["RS256", "ES256", "EdDSA"];

/** The JWS algorithm a verification key is used with. */
export function algorithmOf(key: KeyObject): "RS256" | "ES256" | "EdDSA" {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return "RS256";
    case "ec":
      return "ES256";
    default:
      return "EdDSA";
  }
}

/**
 * `Authorization: Bearer <JWT>`: the token must be signed by a configured key
 * with RS256, ES256 or EdDSA, carry `exp` (enforced with the configured
 * leeway) and a `sub`, which is the identity. A token with `aud` is refused
 * unless an audience is configured, and then `aud` must match it.
 */
export function createJwtAuthorizer(config: JwtConfig): Authorizer {
  const byAlgorithm = new Map(config.publicKeys.map((key) => [algorithmOf(key), key]));
  const jwks =
    config.jwks === undefined
      ? undefined
      : config.jwks.kind === "file"
        ? createLocalJWKSet(config.jwks.keys)
        : createRemoteJWKSet(config.jwks.url, { timeoutDuration: 5000 });
  const getKey: JWTVerifyGetKey = async (header, token) => {
    const key = byAlgorithm.get(header.alg as "RS256");
    if (key !== undefined) return key;
    if (jwks !== undefined) return jwks(header, token);
    throw new errors.JWKSNoMatchingKey();
  };

  return {
    async authorize(headers) {
      const header = headers.get("authorization");
      if (header === null || header === "") throw authError("missing Authorization header");
      const match = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i.exec(
        header.trim(),
      );
      if (match?.[1] === undefined) {
        throw authError("malformed Authorization header: expected Bearer and a JWT");
      }
      let payload: { sub?: string; aud?: unknown };
      try {
        ({ payload } = await jwtVerify(match[1], getKey, {
          algorithms: ALGORITHMS,
          clockTolerance: config.leewaySecs,
          requiredClaims: ["exp", "sub"],
          ...(config.audience === undefined ? {} : { audience: config.audience }),
          ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
        }));
      } catch (error) {
        if (error instanceof errors.JWKSTimeout) {
          throw new VssError("internal", "token keys unavailable", {
            cause: error,
            reason: "unavailable",
          });
        }
        throw authError(describe(error));
      }
      if (config.audience === undefined && payload.aud !== undefined) {
        throw authError("token has an audience (aud) and none is configured");
      }
      const sub = payload.sub ?? "";
      if (sub.length === 0 || [...sub].length > 120) {
        throw authError("token subject (sub) must be 1 to 120 characters");
      }
      return sub;
    },
  };
}

/** What was wrong with a token, without anything secret. */
function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "token expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    return error.claim === "nbf"
      ? "token not yet valid"
      : `token claim ${error.claim} invalid: ${error.reason}`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "invalid token signature";
  if (error instanceof errors.JWKSNoMatchingKey) return "no configured key matches the token";
  return error instanceof errors.JOSEError ? "malformed token" : "invalid token";
}
