import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin URL of a PostgreSQL server for the tests, or "" when none. */
    postgresUrl: string;
  }
}

/**
 * Finds a PostgreSQL for the suite: VSS_TEST_DATABASE_URL when set, else a
 * throwaway cluster when the server binaries are installed. In CI a missing
 * PostgreSQL is an error: the PostgreSQL suite must never be skipped there.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const given = process.env["VSS_TEST_DATABASE_URL"];
  if (given !== undefined && given !== "") {
    project.provide("postgresUrl", given);
    return () => {};
  }
  const bin = findPostgresBin();
  if (bin === undefined) {
    if (process.env["CI"] === "true") {
      throw new Error("CI=true but no PostgreSQL: set VSS_TEST_DATABASE_URL");
    }
    process.stdout.write(
      "\n*** PostgreSQL skipped: no VSS_TEST_DATABASE_URL and no server binaries; the embedded store only ***\n\n",
    );
    project.provide("postgresUrl", "");
    return () => {};
  }
  const cluster = await startThrowawayCluster(bin);
  project.provide("postgresUrl", cluster.url);
  return cluster.stop;
}

function findPostgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(root, version, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "pg_ctl"))) return bin;
  }
  return undefined;
}

async function freePort(): Promise<number> {
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

async function startThrowawayCluster(bin: string): Promise<{ url: string; stop: () => void }> {
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
  const port = await freePort();
  run("pg_ctl", [
    "-D",
    data,
    "-l",
    join(dir, "log"),
    "-w",
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`,
    "start",
  ]);
  process.stdout.write(`\nthrowaway PostgreSQL on 127.0.0.1:${port} (${dir})\n`);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
