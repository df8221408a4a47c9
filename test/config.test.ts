import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("configuration", () => {
  it("has safe defaults: loopback, /vss, the embedded store, signature auth, 32 MiB bodies", () => {
    const config = loadConfig({});
    expect(config.host).toBe("127.0.0.1");
    expect(config.port).toBe(8080);
    expect(config.basePath).toBe("/vss");
    expect(config.database).toEqual({ kind: "embedded", dataDir: "./vss-data" });
    expect(config.auth).toEqual({ mode: "signature", maxSkewSecs: 86_400 });
    expect(config.maxRequestBodySize).toBeGreaterThanOrEqual(32 * 1024 * 1024);
    expect(config.corsOrigins).toEqual([]);
  });

  it("reads every documented variable", () => {
    const config = loadConfig({
      VSS_BIND_ADDRESS: "[::1]:9000",
      VSS_BASE_PATH: "/api/vss/",
      VSS_DATABASE_URL: "postgres://u:p@db:5432/vss",
      VSS_DATABASE_POOL_SIZE: "4",
      VSS_MAX_REQUEST_BODY_SIZE: "1048576",
      VSS_LOG_LEVEL: "debug",
      VSS_CORS_ORIGINS: "https://a.example, http://localhost:5173",
      VSS_AUTH: "none",
      VSS_MAX_PAGE_SIZE: "500",
    });
    expect(config.host).toBe("::1");
    expect(config.port).toBe(9000);
    expect(config.basePath).toBe("/api/vss");
    expect(config.database).toMatchObject({
      kind: "postgres",
      url: "postgres://u:p@db:5432/vss",
      poolSize: 4,
    });
    expect(config.maxRequestBodySize).toBe(1048576);
    expect(config.logLevel).toBe("debug");
    expect(config.corsOrigins).toEqual(["https://a.example", "http://localhost:5173"]);
    expect(config.auth).toEqual({ mode: "none" });
    expect(config.limits.maxPageSize).toBe(500);
    expect(loadConfig({ VSS_CORS_ORIGINS: "*" }).corsOrigins).toBe("*");
  });

  it.each([
    ["VSS_BIND_ADDRESS", "8080"],
    ["VSS_BIND_ADDRESS", "localhost:99999"],
    ["VSS_BASE_PATH", "vss with spaces"],
    ["VSS_DATABASE_URL", "mysql://nope"],
    ["VSS_MAX_REQUEST_BODY_SIZE", "32MB"],
    ["VSS_MAX_REQUEST_BODY_SIZE", "10"],
    ["VSS_LOG_LEVEL", "loud"],
    ["VSS_CORS_ORIGINS", "wallet.example"],
    ["VSS_AUTH", "jwt-maybe"],
    ["VSS_SIGNATURE_MAX_SKEW_SECS", "-1"],
  ])("refuses a bad %s (%s) with an error naming it", (variable, value) => {
    const attempt = () => loadConfig({ [variable]: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(new RegExp(`^${variable}: `));
  });

  it("stops the server at startup with one line naming the variable", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts"], {
      env: { ...process.env, VSS_BIND_ADDRESS: "nowhere", VSS_DATA_DIR: "memory://" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(result.status).toBe(2);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/VSS_BIND_ADDRESS/);
  });
});
