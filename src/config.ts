import type { LevelWithSilent } from "pino";
import { DEFAULT_LIMITS, type ServiceLimits } from "./core/limits.js";
import type { DatabaseConfig } from "./storage/open-store.js";

/** Which authorizer guards the calls. */
export type AuthConfig =
  | { readonly mode: "signature"; readonly maxSkewSecs: number }
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
}

/** A setting is missing or wrong; the message names the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
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
export function loadConfig(env: Env): Config {
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

  const { host, port } = parseBindAddress(read("VSS_BIND_ADDRESS") ?? "127.0.0.1:8080");

  const basePath = (read("VSS_BASE_PATH") ?? "/vss").replace(/\/+$/, "");
  if (!/^(\/[A-Za-z0-9._~-]+)*$/.test(basePath)) {
    throw new ConfigError(
      "VSS_BASE_PATH",
      `expected a path such as /vss, got ${JSON.stringify(basePath)}`,
    );
  }

  const url = read("VSS_DATABASE_URL");
  if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) {
    throw new ConfigError("VSS_DATABASE_URL", "expected a postgres:// or postgresql:// URL");
  }
  const database: DatabaseConfig =
    url === undefined
      ? { kind: "embedded", dataDir: read("VSS_DATA_DIR") ?? "./vss-data" }
      : { kind: "postgres", url, poolSize: integer("VSS_DATABASE_POOL_SIZE", 10, 1, 1000) };

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

  const mode = read("VSS_AUTH") ?? "signature";
  let auth: AuthConfig;
  if (mode === "signature") {
    auth = {
      mode,
      maxSkewSecs: integer("VSS_SIGNATURE_MAX_SKEW_SECS", 86_400, 1, 10 * 365 * 86_400),
    };
  } else if (mode === "none") {
    auth = { mode };
  } else {
    throw new ConfigError("VSS_AUTH", `expected signature or none, got ${JSON.stringify(mode)}`);
  }

  return {
    host,
    port,
    basePath,
    database,
    maxRequestBodySize: integer("VSS_MAX_REQUEST_BODY_SIZE", 32 * MIB, 1024, 1024 * MIB),
    logLevel: logLevel as LevelWithSilent,
    corsOrigins,
    auth,
    limits: {
      maxItemsPerPut: integer("VSS_MAX_ITEMS_PER_PUT", DEFAULT_LIMITS.maxItemsPerPut, 1, 100_000),
      maxKeyLength: DEFAULT_LIMITS.maxKeyLength,
      maxStoreIdLength: DEFAULT_LIMITS.maxStoreIdLength,
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
