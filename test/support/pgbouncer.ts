import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./postgres-cluster.js";

export const PGBOUNCER = "/usr/sbin/pgbouncer";

/** A pgbouncer in transaction pooling mode in front of a PostgreSQL. */
export interface PgBouncer {
  /** URL of `database` through the pooler. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

export function havePgBouncer(): boolean {
  return existsSync(PGBOUNCER);
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited: ${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`pgbouncer did not listen: ${log()}`);
}

/** Starts pgbouncer (as the postgres user when root: it refuses root) for `upstreamUrl`'s server. */
export async function startPgBouncer(upstreamUrl: string): Promise<PgBouncer> {
  const upstream = new URL(upstreamUrl);
  const dir = mkdtempSync(join(tmpdir(), "vss-pgbouncer-"));
  const port = await freePort();
  const user = decodeURIComponent(upstream.username || "postgres");
  const password = decodeURIComponent(upstream.password);
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `* = host=${upstream.hostname} port=${upstream.port || "5432"} user=${user}${password ? ` password=${password}` : ""}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = any",
      "pool_mode = transaction",
      "max_client_conn = 500",
      "default_pool_size = 4",
      "ignore_startup_parameters = extra_float_digits",
      `logfile = ${join(dir, "pgbouncer.log")}`,
      `pidfile = ${join(dir, "pgbouncer.pid")}`,
      "",
    ].join("\n"),
  );
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    for (const path of [dir, join(dir, "pgbouncer.ini")]) chownSync(path, uid, gid);
  }
  const args = [join(dir, "pgbouncer.ini")];
  const child = asRoot
    ? spawn("runuser", ["-u", "postgres", "--", PGBOUNCER, ...args], {
        stdio: ["ignore", "pipe", "pipe"],
      })
    : spawn(PGBOUNCER, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    output += c.toString();
  });
  await waitForPort(port, child, () => output);
  return {
    urlFor: (database) => `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${database}`,
    stop: async () => {
      // pgbouncer's own pid (runuser passes no signals on); SIGTERM stops at once.
      const pid = Number(readFileSync(join(dir, "pgbouncer.pid"), "utf8").trim());
      const alive = () => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      if (alive()) process.kill(pid, "SIGTERM");
      for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
      if (alive()) process.kill(pid, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
