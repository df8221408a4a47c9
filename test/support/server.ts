import { type App, type AppDependencies, createApp } from "../../src/app.js";
import { type Config, loadConfig } from "../../src/config.js";
import type { DatabaseConfig } from "../../src/storage/open-store.js";

/**
 * Starts the real server in-process on a free loopback port, configured
 * through the same loadConfig as production (plus `env`).
 */
export async function startServer(
  database: DatabaseConfig,
  env: Record<string, string> = {},
  deps: AppDependencies = {},
): Promise<App & { config: Config }> {
  const config: Config = {
    ...loadConfig({
      VSS_BIND_ADDRESS: "127.0.0.1:0",
      VSS_LOG_LEVEL: "silent",
      // Suites that are not about rate limits drive one identity hard.
      VSS_RATE_LIMIT_PER_SEC: "0",
      ...env,
    }),
    database,
  };
  const app = await createApp(config, deps);
  return Object.assign(app, { config });
}
