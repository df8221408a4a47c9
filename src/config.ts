import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { JSONWebKeySet } from "jose";
import type { LevelWithSilent } from "pino";
import { parse as parseToml } from "smol-toml";
import type { AdmissionLimits } from "./core/admission.js";
import { DEFAULT_LIMITS, type ServiceLimits } from "./core/limits.js";
import type { DatabaseConfig } from "./storage/open-store.js";
import type { Quota } from "./storage/quota.js";

/** How JWTs are verified. */
export interface JwtConfig {
  /** Public keys that sign tokens: RSA (RS256), P-256 (ES256) or Ed25519 (EdDSA). */
  readonly publicKeys: readonly KeyObject[];
  /** A JWKS with more keys, from a file or a URL. */
  readonly jwks?:
    | { readonly kind: "file"; readonly keys: JSONWebKeySet }
    | { readonly kind: "url"; readonly url: URL };
  /** When set, tokens must carry this `aud`; when unset, tokens with `aud` are refused. */
  readonly audience?: string;
  /** When set, tokens must carry this `iss`. */
  readonly issuer?: string;
  /** Clock tolerance for `exp` and `nbf`, in seconds. */
  readonly leewaySecs: number;
}

/** The built-in LNURL-auth login. */
export interface LnurlConfig {
  /** The private key that signs issued tokens, or where to keep a generated one. */
  readonly signingKey:
    | { readonly kind: "configured"; readonly key: KeyObject }
    | { readonly kind: "file"; readonly path: string };
  /** Lifetime of an issued token, in seconds. */
  readonly tokenTtlSecs: number;
  /** Lifetime of a challenge (k1), in seconds. */
  readonly challengeTtlSecs: number;
  /** The server's public URL for the LNURLs it hands out; else taken from each request. */
  readonly publicUrl?: string;
}

/** Which authorizer guards the calls. */
export type AuthConfig =
  | { readonly mode: "signature"; readonly maxSkewSecs: number }
  | { readonly mode: "jwt"; readonly jwt: JwtConfig }
  | { readonly mode: "lnurl"; readonly jwt: JwtConfig; readonly lnurl: LnurlConfig }
  | { readonly mode: "none" };

/** Everything the server needs to start, validated. */
export interface Config {
  readonly host: string;
  readonly port: number;
  /** Base path of the binary HTTP form, e.g. `/vss`; never ends with `/`. */
  readonly basePath: string;
  readonly database: DatabaseConfig;
  /** Largest request body accepted, in bytes. */
  readonly maxRequestBodySize: number;
  readonly logLevel: LevelWithSilent;
  /** Origins allowed by CORS: `*`, a list, or none (CORS off). */
  readonly corsOrigins: "*" | readonly string[];
  readonly auth: AuthConfig;
  readonly limits: ServiceLimits;
  /**
   * Proxies in front of the server whose X-Forwarded-For is trusted: the
   * client's address is that many entries from the right (0: the socket's peer).
   */
  readonly trustedProxyHops: number;
  readonly admission: AdmissionLimits;
  /** Server processes sharing the port (node:cluster); 1: this process serves. */
  readonly workers: number;
  /** How long shutdown waits for calls in flight before cutting them. */
  readonly shutdownGraceSecs: number;
  /** Per-identity storage quota; none: unlimited. */
  readonly quota?: Quota;
  /** HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with this certificate and key, PEM. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

/** A setting is missing or wrong; the message names the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly variable: string,
    readonly detail: string,
  ) {
    super(`${variable}: ${detail}`);
  }
}

const LOG_LEVELS: readonly LevelWithSilent[] = [
  "fatal",
  "error",
  "warn",
  "info",
  "debug",
  "trace",
  "silent",
];
const MIB = 1024 * 1024;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads and validates the configuration from environment variables. This is
 * the only place that reads them. Throws {@link ConfigError} on a bad value.
 */
export function loadConfig(env: Env, args: readonly string[] = []): Config {
  const path = args[0] ?? (env["VSS_CONFIG"]?.trim() || undefined);
  if (path === undefined) return fromSettings(env, undefined);
  const file = readConfigFile(path);
  try {
    // Environment variables override the file.
    return fromSettings({ ...file.settings, ...env }, file);
  } catch (error) {
    const label =
      error instanceof ConfigError && env[error.variable] === undefined
        ? file.labels.get(error.variable)
        : undefined;
    if (label !== undefined && error instanceof ConfigError) {
      throw new ConfigError(`${label} in ${path}`, error.detail);
    }
    throw error;
  }
}

function fromSettings(env: Env, file: ConfigFile | undefined): Config {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!/^[0-9]+$/.test(raw))
      throw new ConfigError(name, `expected a whole number, got ${JSON.stringify(raw)}`);
    const value = Number(raw);
    if (value < min || value > max)
      throw new ConfigError(name, `must be between ${min} and ${max}, got ${raw}`);
    return value;
  };

  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (raw !== "true" && raw !== "false") {
      throw new ConfigError(name, `expected true or false, got ${JSON.stringify(raw)}`);
    }
    return raw === "true";
  };

  const { host, port } = parseBindAddress(read("VSS_BIND_ADDRESS") ?? "127.0.0.1:8080");

  const basePath = (read("VSS_BASE_PATH") ?? "/vss").replace(/\/+$/, "");
  if (!/^(\/[A-Za-z0-9._~-]+)*$/.test(basePath)) {
    throw new ConfigError(
      "VSS_BASE_PATH",
      `expected a path such as /vss, got ${JSON.stringify(basePath)}`,
    );
  }

  const url = read("VSS_DATABASE_URL") ?? file?.postgres?.url;
  if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) {
    throw new ConfigError("VSS_DATABASE_URL", "expected a postgres:// or postgresql:// URL");
  }
  const tlsWanted = read("VSS_PSQL_TLS");
  if (tlsWanted !== undefined && !/^(true|false)$/.test(tlsWanted)) {
    throw new ConfigError(
      "VSS_PSQL_TLS",
      `expected true or false, got ${JSON.stringify(tlsWanted)}`,
    );
  }
  const ca = read("VSS_PSQL_CRT_PEM");
  const database: DatabaseConfig =
    url === undefined
      ? { kind: "embedded", dataDir: read("VSS_DATA_DIR") ?? "./vss-data" }
      : {
          kind: "postgres",
          url,
          poolSize: integer("VSS_DATABASE_POOL_SIZE", 10, 1, 1000),
          connectTimeoutSecs: integer("VSS_DATABASE_CONNECT_TIMEOUT_SECS", 10, 1, 600),
          statementTimeoutMs: integer("VSS_DATABASE_STATEMENT_TIMEOUT_MS", 30_000, 0, 3_600_000),
          preparedStatements: boolean("VSS_DATABASE_PREPARED_STATEMENTS", true),
          ...(tlsWanted || ca !== undefined
            ? { tls: ca === undefined ? {} : { ca: pemText("VSS_PSQL_CRT_PEM", ca) } }
            : {}),
          ...(read("VSS_DATABASE_URL") === undefined && file?.postgres !== undefined
            ? { createDatabase: file.postgres.createDatabase }
            : {}),
        };

  const logLevel = (read("VSS_LOG_LEVEL") ?? "info").toLowerCase();
  if (!LOG_LEVELS.includes(logLevel as LevelWithSilent)) {
    throw new ConfigError(
      "VSS_LOG_LEVEL",
      `expected one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(logLevel)}`,
    );
  }

  const cors = read("VSS_CORS_ORIGINS");
  const corsOrigins =
    cors === undefined
      ? []
      : cors === "*"
        ? ("*" as const)
        : cors
            .split(",")
            .map((o) => o.trim())
            .filter(Boolean);
  if (Array.isArray(corsOrigins)) {
    for (const origin of corsOrigins) {
      if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
        throw new ConfigError(
          "VSS_CORS_ORIGINS",
          `expected origins like https://wallet.example, got ${JSON.stringify(origin)}`,
        );
      }
    }
  }

  // A reference-server config file with a JWT key means JWT authentication.
  const mode =
    read("VSS_AUTH") ?? (file?.settings["VSS_JWT_RSA_PEM"] !== undefined ? "jwt" : "signature");
  let auth: AuthConfig;
  if (mode === "signature") {
    auth = {
      mode,
      maxSkewSecs: integer("VSS_SIGNATURE_MAX_SKEW_SECS", 86_400, 1, 10 * 365 * 86_400),
    };
  } else if (mode === "jwt") {
    auth = { mode, jwt: readJwtConfig(read, integer, true) };
  } else if (mode === "lnurl") {
    const pem = read("VSS_LNURL_SIGNING_KEY_PEM");
    const dataDir =
      database.kind === "embedded" && !database.dataDir.startsWith("memory://")
        ? database.dataDir
        : "./vss-data";
    const publicUrl = read("VSS_PUBLIC_URL")?.replace(/\/+$/, "");
    if (publicUrl !== undefined && !/^https?:\/\/[^/\s]+(\/\S*)?$/.test(publicUrl)) {
      throw new ConfigError(
        "VSS_PUBLIC_URL",
        `expected a URL such as https://vss.example.com, got ${JSON.stringify(publicUrl)}`,
      );
    }
    auth = {
      mode,
      jwt: readJwtConfig(read, integer, false),
      lnurl: {
        signingKey:
          pem === undefined
            ? {
                kind: "file",
                path: read("VSS_LNURL_SIGNING_KEY_FILE") ?? join(dataDir, "lnurl-signing-key.pem"),
              }
            : { kind: "configured", key: parsePrivateSigningKey("VSS_LNURL_SIGNING_KEY_PEM", pem) },
        tokenTtlSecs: integer("VSS_LNURL_TOKEN_TTL_SECS", 3600, 60, 30 * 86_400),
        challengeTtlSecs: integer("VSS_LNURL_CHALLENGE_TTL_SECS", 300, 10, 3600),
        ...(publicUrl === undefined ? {} : { publicUrl }),
      },
    };
  } else if (mode === "none") {
    auth = { mode };
  } else {
    throw new ConfigError(
      "VSS_AUTH",
      `expected signature, jwt, lnurl or none, got ${JSON.stringify(mode)}`,
    );
  }

  const cert = read("VSS_TLS_CERT");
  const key = read("VSS_TLS_KEY");
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError(
      cert === undefined ? "VSS_TLS_CERT" : "VSS_TLS_KEY",
      "VSS_TLS_CERT and VSS_TLS_KEY go together",
    );
  }
  let tls: Config["tls"];
  if (cert !== undefined && key !== undefined) {
    tls = { cert: pemText("VSS_TLS_CERT", cert), key: pemText("VSS_TLS_KEY", key) };
    try {
      new X509Certificate(tls.cert);
    } catch (error) {
      throw new ConfigError("VSS_TLS_CERT", `not a PEM certificate: ${(error as Error).message}`);
    }
    try {
      createPrivateKey(tls.key);
    } catch (error) {
      throw new ConfigError("VSS_TLS_KEY", `not a PEM private key: ${(error as Error).message}`);
    }
  }

  const workers = integer("VSS_WORKERS", 1, 1, 256);
  if (workers > 1 && database.kind === "embedded") {
    throw new ConfigError(
      "VSS_WORKERS",
      "the embedded store serves one process: set VSS_DATABASE_URL to run several workers",
    );
  }
  const quota = {
    bytes: integer("VSS_QUOTA_BYTES", 0, 0, Number.MAX_SAFE_INTEGER),
    keys: integer("VSS_QUOTA_KEYS", 0, 0, Number.MAX_SAFE_INTEGER),
  };

  return {
    ...(tls === undefined ? {} : { tls }),
    ...(quota.bytes > 0 || quota.keys > 0 ? { quota } : {}),
    shutdownGraceSecs: integer("VSS_SHUTDOWN_GRACE_SECS", 10, 0, 3600),
    workers,
    host,
    port,
    basePath,
    database,
    maxRequestBodySize: integer("VSS_MAX_REQUEST_BODY_SIZE", 32 * MIB, 1024, 1024 * MIB),
    logLevel: logLevel as LevelWithSilent,
    corsOrigins,
    auth,
    trustedProxyHops: integer("VSS_TRUSTED_PROXY_HOPS", 0, 0, 10),
    admission: {
      authFailuresPerMin: integer("VSS_AUTH_FAILURES_PER_MIN", 0, 0, 1_000_000),
      ratePerSec: integer("VSS_RATE_LIMIT_PER_SEC", 100, 0, 1_000_000),
      burst: integer("VSS_RATE_LIMIT_BURST", 1000, 0, 10_000_000),
      maxConcurrent: integer("VSS_MAX_CONCURRENT_PER_IDENTITY", 32, 0, 100_000),
    },
    limits: {
      maxItemsPerPut: integer("VSS_MAX_ITEMS_PER_PUT", DEFAULT_LIMITS.maxItemsPerPut, 1, 100_000),
      // At most the columns' sizes: lower only.
      maxKeyLength: integer(
        "VSS_MAX_KEY_LENGTH",
        DEFAULT_LIMITS.maxKeyLength,
        1,
        DEFAULT_LIMITS.maxKeyLength,
      ),
      maxStoreIdLength: integer(
        "VSS_MAX_STORE_ID_LENGTH",
        DEFAULT_LIMITS.maxStoreIdLength,
        0,
        DEFAULT_LIMITS.maxStoreIdLength,
      ),
      maxPageSize: integer("VSS_MAX_PAGE_SIZE", DEFAULT_LIMITS.maxPageSize, 1, 10_000),
    },
  };
}

function parseBindAddress(value: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):([0-9]{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (match === null || host === undefined || port > 65535) {
    throw new ConfigError(
      "VSS_BIND_ADDRESS",
      `expected host:port such as 127.0.0.1:8080 or [::1]:8080, got ${JSON.stringify(value)}`,
    );
  }
  return { host, port };
}

type Read = (name: string) => string | undefined;
type Integer = (name: string, fallback: number, min: number, max: number) => number;

function readJwtConfig(read: Read, integer: Integer, keyRequired: boolean): JwtConfig {
  const publicKeys: KeyObject[] = [];
  const rsa = read("VSS_JWT_RSA_PEM");
  if (rsa !== undefined) {
    const key = parsePublicKey("VSS_JWT_RSA_PEM", rsa);
    if (key.asymmetricKeyType !== "rsa")
      throw new ConfigError("VSS_JWT_RSA_PEM", "expected an RSA public key");
    publicKeys.push(key);
  }
  const other = read("VSS_JWT_PUBLIC_KEY_PEM");
  if (other !== undefined) publicKeys.push(parsePublicKey("VSS_JWT_PUBLIC_KEY_PEM", other));

  let jwks: JwtConfig["jwks"];
  const jwksSource = read("VSS_JWT_JWKS");
  if (jwksSource !== undefined) {
    if (/^https?:\/\//.test(jwksSource)) {
      jwks = { kind: "url", url: new URL(jwksSource) };
    } else {
      let keys: unknown;
      try {
        keys = JSON.parse(readFileSync(jwksSource, "utf8"));
      } catch (error) {
        throw new ConfigError(
          "VSS_JWT_JWKS",
          `cannot read a JWKS from ${jwksSource}: ${(error as Error).message}`,
        );
      }
      if (
        typeof keys !== "object" ||
        keys === null ||
        !Array.isArray((keys as { keys?: unknown }).keys)
      ) {
        throw new ConfigError("VSS_JWT_JWKS", `${jwksSource} is not a JWKS ({"keys": [...]})`);
      }
      jwks = { kind: "file", keys: keys as JSONWebKeySet };
    }
  }
  if (keyRequired && publicKeys.length === 0 && jwks === undefined) {
    throw new ConfigError(
      "VSS_JWT_RSA_PEM",
      "VSS_AUTH=jwt needs a key: VSS_JWT_RSA_PEM, VSS_JWT_PUBLIC_KEY_PEM or VSS_JWT_JWKS",
    );
  }
  const audience = read("VSS_JWT_AUDIENCE");
  const issuer = read("VSS_JWT_ISSUER");
  return {
    publicKeys,
    ...(jwks === undefined ? {} : { jwks }),
    ...(audience === undefined ? {} : { audience }),
    ...(issuer === undefined ? {} : { issuer }),
    leewaySecs: integer("VSS_JWT_LEEWAY_SECS", 60, 0, 3600),
  };
}

/** A PEM given inline (with real or escaped newlines) or as a file path. */
function pemText(variable: string, value: string): string {
  if (value.startsWith("-----BEGIN")) return value.replace(/\\n/g, "\n");
  try {
    return readFileSync(value, "utf8");
  } catch (error) {
    throw new ConfigError(
      variable,
      `neither a PEM nor a readable file: ${(error as Error).message}`,
    );
  }
}

/** A verification key, checked for a type and size we accept. */
function parsePublicKey(variable: string, value: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pemText(variable, value));
  } catch (error) {
    throw new ConfigError(
      variable,
      `not a public key PEM (SPKI or PKCS#1): ${(error as Error).message}`,
    );
  }
  checkSigningKeyType(variable, key);
  return key;
}

/** A private key for signing tokens, checked like public keys. */
function parsePrivateSigningKey(variable: string, value: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pemText(variable, value));
  } catch (error) {
    throw new ConfigError(variable, `not a private key PEM: ${(error as Error).message}`);
  }
  checkSigningKeyType(variable, key);
  return key;
}

function checkSigningKeyType(variable: string, key: KeyObject): void {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails;
  if (type === "rsa") {
    if ((details?.modulusLength ?? 0) < 2048) {
      throw new ConfigError(
        variable,
        `RSA keys must have at least 2048 bits, this one has ${details?.modulusLength}`,
      );
    }
  } else if (type === "ec") {
    if (details?.namedCurve !== "prime256v1") {
      throw new ConfigError(
        variable,
        `EC keys must be on P-256 (ES256), this one is on ${details?.namedCurve}`,
      );
    }
  } else if (type !== "ed25519") {
    throw new ConfigError(variable, `expected an RSA, P-256 or Ed25519 key, got ${type}`);
  }
}

/** What a TOML configuration file contributes. */
interface ConfigFile {
  /** Settings under their environment variable names. */
  readonly settings: Record<string, string>;
  /** Where each setting came from in the file, for error messages. */
  readonly labels: Map<string, string>;
  /** A database given as [postgresql_config], created if missing. */
  readonly postgres?: { url: string; createDatabase: { adminUrl: string; name: string } };
}

/**
 * Reads a TOML file in the reference server's layout: [server_config]
 * bind_address (or host and port) and max_request_body_size;
 * [jwt_auth_config] rsa_pem; [postgresql_config] username, password, address,
 * default_database, vss_database and [postgresql_config.tls] crt_pem;
 * [log_config] level.
 */
function readConfigFile(path: string): ConfigFile {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError("VSS_CONFIG", `cannot read ${path}: ${(error as Error).message}`);
  }
  const settings: Record<string, string> = {};
  const labels = new Map<string, string>();
  const table = (name: string): Record<string, unknown> => {
    const value = doc[name];
    if (value === undefined) return {};
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new ConfigError(`[${name}] in ${path}`, "expected a table");
    }
    return value as Record<string, unknown>;
  };
  const scalar = (section: string, key: string): string | undefined => {
    const value = table(section)[key];
    if (value === undefined) return undefined;
    if (
      typeof value !== "string" &&
      typeof value !== "number" &&
      typeof value !== "bigint" &&
      typeof value !== "boolean"
    ) {
      throw new ConfigError(`[${section}] ${key} in ${path}`, "expected a string or a number");
    }
    return String(value);
  };
  const set = (variable: string, section: string, key: string, value = scalar(section, key)) => {
    if (value === undefined) return;
    settings[variable] = value;
    labels.set(variable, `[${section}] ${key}`);
  };

  const host = scalar("server_config", "host");
  const port = scalar("server_config", "port");
  set("VSS_BIND_ADDRESS", "server_config", "bind_address");
  if (settings["VSS_BIND_ADDRESS"] === undefined && (host !== undefined || port !== undefined)) {
    const h = host ?? "127.0.0.1";
    set(
      "VSS_BIND_ADDRESS",
      "server_config",
      "host/port",
      `${h.includes(":") ? `[${h}]` : h}:${port ?? "8080"}`,
    );
  }
  set("VSS_MAX_REQUEST_BODY_SIZE", "server_config", "max_request_body_size");
  set("VSS_JWT_RSA_PEM", "jwt_auth_config", "rsa_pem");
  set("VSS_LOG_LEVEL", "log_config", "level");

  const pg = table("postgresql_config");
  let postgres: ConfigFile["postgres"];
  if (Object.keys(pg).length > 0) {
    const field = (key: string, fallback?: string) => {
      const value = scalar("postgresql_config", key) ?? fallback;
      if (value === undefined)
        throw new ConfigError(`[postgresql_config] ${key} in ${path}`, "is required");
      return value;
    };
    const name = field("vss_database", "vss");
    if (!/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/.test(name)) {
      throw new ConfigError(
        `[postgresql_config] vss_database in ${path}`,
        `not a plain database name: ${JSON.stringify(name)}`,
      );
    }
    const base = new URL(`postgres://${field("address", "localhost:5432")}`);
    base.username = encodeURIComponent(field("username"));
    base.password = encodeURIComponent(field("password", ""));
    const adminUrl = new URL(base);
    adminUrl.pathname = `/${field("default_database", "postgres")}`;
    const url = new URL(base);
    url.pathname = `/${name}`;
    postgres = { url: url.toString(), createDatabase: { adminUrl: adminUrl.toString(), name } };
    const tls = pg["tls"];
    if (tls !== undefined) {
      const crt =
        typeof tls === "object" && tls !== null
          ? (tls as Record<string, unknown>)["crt_pem"]
          : undefined;
      settings["VSS_PSQL_TLS"] = "true";
      labels.set("VSS_PSQL_TLS", "[postgresql_config.tls]");
      if (typeof crt === "string") {
        settings["VSS_PSQL_CRT_PEM"] = crt;
        labels.set("VSS_PSQL_CRT_PEM", "[postgresql_config.tls] crt_pem");
      }
    }
  }
  return postgres === undefined ? { settings, labels } : { settings, labels, postgres };
}
