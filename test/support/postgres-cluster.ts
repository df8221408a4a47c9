import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A throwaway PostgreSQL cluster that a test may stop and start. */
export interface PostgresCluster {
  /** Superuser URL of the `postgres` database. */
  readonly url: string;
  readonly port: number;
  stop(): void;
  start(): void;
  /** Stops it for good and removes its files. */
  destroy(): void;
}

/** The bin directory of the newest installed PostgreSQL, if any. */
export function findPostgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(root, version, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "pg_ctl"))) return bin;
  }
  return undefined;
}

/**
 * The server binaries for tests that run a cluster of their own: undefined
 * (skip) on a developer machine without them, an error in CI, where no
 * PostgreSQL test may be skipped.
 */
export function postgresBinForTests(): string | undefined {
  const bin = findPostgresBin();
  if (bin === undefined && process.env["CI"] === "true") {
    throw new Error("CI needs the PostgreSQL server binaries (Debian package postgresql)");
  }
  return bin;
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Options of {@link startPostgresCluster}. */
export interface ClusterOptions {
  /** Serve TLS with this certificate and key (PEM). */
  readonly ssl?: { readonly cert: string; readonly key: string };
}

/** Creates and starts a cluster on a free loopback port (as the postgres user when root). */
export async function startPostgresCluster(
  bin: string,
  options: ClusterOptions = {},
): Promise<PostgresCluster> {
  const dir = mkdtempSync(join(tmpdir(), "vss-test-pg-"));
  const asRoot = process.getuid?.() === 0;
  // PostgreSQL refuses to run as root: run it as the postgres system user.
  const run = (cmd: string, args: string[]) =>
    asRoot
      ? execFileSync("runuser", ["-u", "postgres", "--", join(bin, cmd), ...args], {
          stdio: "pipe",
        })
      : execFileSync(join(bin, cmd), args, { stdio: "pipe" });
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  let sslFlags = "";
  if (options.ssl !== undefined) {
    // PostgreSQL wants its key owned by itself and private.
    for (const [name, pem] of [
      ["server.crt", options.ssl.cert],
      ["server.key", options.ssl.key],
    ] as const) {
      const file = join(data, name);
      writeFileSync(file, pem, { mode: 0o600 });
      if (asRoot) {
        const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
        const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
        chownSync(file, uid, gid);
      }
    }
    sslFlags = " -c ssl=on";
  }
  const port = await freePort();
  const start = () =>
    run("pg_ctl", [
      "-D",
      data,
      "-l",
      join(dir, "log"),
      "-w",
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200${sslFlags}`,
      "start",
    ]);
  start();
  let destroyed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop: () => run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]),
    start,
    destroy: () => {
      if (destroyed) return;
      destroyed = true;
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // already stopped
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
