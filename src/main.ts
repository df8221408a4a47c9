import cluster from "node:cluster";
import { createApp } from "./app.js";
import { type Config, ConfigError, loadConfig } from "./config.js";

// Entry point: configuration errors stop the server with one line naming the
// variable; SIGTERM and SIGINT shut it down gracefully. With VSS_WORKERS=N the
// primary process forks N workers that share the port (node:cluster).

function fail(message: string, code: number): never {
  process.stderr.write(`vss-server: ${message}\n`);
  process.exit(code);
}

function readConfig(): Config {
  try {
    return loadConfig(process.env, process.argv.slice(2));
  } catch (error) {
    if (error instanceof ConfigError) fail(`invalid configuration: ${error.message}`, 2);
    throw error;
  }
}

function onSignals(stop: (signal: string) => void): void {
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      stop(signal);
    });
  }
}

async function serve(config: Config): Promise<void> {
  const app = await createApp(config);
  onSignals((signal) => {
    process.stderr.write(`vss-server: ${signal} received, shutting down\n`);
    app.close().then(
      () => process.exit(0),
      (error: unknown) => fail(`shutdown failed: ${String(error)}`, 1),
    );
  });
}

/** Forks the workers, replaces any that dies, and stops them all on a signal. */
function supervise(workers: number): void {
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < workers; i++) fork();
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    process.stderr.write(
      `vss-server: worker ${worker.process.pid} ended (${signal ?? code}); starting another\n`,
    );
    // A worker that cannot start (bad database, port taken) fails fast: do not spin.
    setTimeout(fork, 1000).unref();
  });
  onSignals((signal) => {
    stopping = true;
    process.stderr.write(`vss-server: ${signal} received, stopping ${workers} workers\n`);
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill("SIGTERM");
  });
}

const config = readConfig();
const start =
  cluster.isPrimary && config.workers > 1
    ? Promise.resolve(supervise(config.workers))
    : serve(config);
start.catch((error: unknown) => {
  fail(`failed to start: ${error instanceof Error ? error.message : String(error)}`, 1);
});
