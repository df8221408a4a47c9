import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App } from "../src/app.js";
import { createTestDatabase, postgresAdminUrl, type TestDatabase } from "./support/databases.js";
import { startServer } from "./support/server.js";

/** Runs the `vss` command as a real process (asynchronously: the server runs in this process). */
function vss(
  args: string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/vss.ts", ...args], {
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdin.end(input ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe("the vss command", () => {
  let app: App;
  let dir: string;
  let key: string;
  let identity: string;
  let db: TestDatabase | undefined;
  const adminUrl = postgresAdminUrl();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "vss-cli-"));
    db = adminUrl === undefined ? undefined : await createTestDatabase(adminUrl);
    app = await startServer(
      db === undefined
        ? { kind: "embedded", dataDir: "memory://" }
        : { kind: "postgres", url: db.url, poolSize: 4 },
    );
    const keygen = await vss(["keygen"]);
    expect(keygen.code).toBe(0);
    key = /secret ([0-9a-f]{64})/.exec(keygen.stdout)?.[1] ?? "";
    identity = /public ([0-9a-f]{66})/.exec(keygen.stdout)?.[1] ?? "";
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const env = () => ({ VSS_URL: app.url, VSS_CLIENT_KEY: key });

  it("explains itself, and fails clearly on bad usage", async () => {
    const help = await vss(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["keygen", "get", "put", "delete", "list", "export", "import", "admin"]) {
      expect(help.stdout).toContain(command);
    }
    const unknown = await vss(["frobnicate"]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown command/);
    const noKey = await vss(["get", "k"], { VSS_URL: app.url });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/needs --key/);
  });

  it("puts, gets, lists and deletes; a missing key exits 3; a conflict says so", async () => {
    expect((await vss(["put", "--store", "s", "greeting", "hello"], env())).code).toBe(0);
    const got = await vss(["get", "--store", "s", "greeting"], env());
    expect(got.code).toBe(0);
    expect(got.stdout).toBe("hello");
    expect(got.stderr).toContain("version 1");
    const conflict = await vss(["put", "--store", "s", "greeting", "again"], env());
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/conflict/);
    expect(
      (await vss(["put", "--store", "s", "--version", "1", "greeting", "updated"], env())).code,
    ).toBe(0);
    expect((await vss(["put", "--store", "s", "piped"], env(), "from stdin")).code).toBe(0);
    const list = await vss(["list", "--store", "s"], env());
    expect(list.stdout).toBe("1\tpiped\n2\tgreeting\n");
    expect((await vss(["delete", "--store", "s", "piped"], env())).code).toBe(0);
    const missing = await vss(["get", "--store", "s", "piped"], env());
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/no_such_key/);
  });

  it("exports a store and imports it into an empty one with the same keys, values and versions", async () => {
    for (let i = 0; i < 7; i++) await vss(["put", "--store", "src", `k${i}`, `value ${i}`], env());
    await vss(["put", "--store", "src", "--version", "1", "k3", "value 3 again"], env());
    await vss(["put", "--store", "src", "--version", "2", "k3", "value 3 thrice"], env());
    const file = join(dir, "export.jsonl");
    const exported = await vss(
      ["export", "--store", "src", "--out", file, "--page-size", "3"],
      env(),
    );
    expect(exported.code).toBe(0);
    expect((await readFile(file, "utf8")).trim().split("\n")).toHaveLength(7);
    const imported = await vss(["import", "--store", "dst", "--in", file], env());
    expect(imported.code).toBe(0);
    const listing = async (store: string) =>
      (await vss(["list", "--all", "--store", store], env())).stdout.split("\n").sort();
    expect(await listing("dst")).toEqual(await listing("src"));
    expect((await vss(["get", "--store", "dst", "k3"], env())).stdout).toBe("value 3 thrice");
    // Importing again creates nothing: every key exists.
    expect((await vss(["import", "--store", "dst", "--in", file], env())).stderr).toMatch(
      /conflict/,
    );
  });

  it.skipIf(adminUrl === undefined)(
    "reports usage per identity and deletes one identity's data on confirmation",
    async () => {
      const dbEnv = { VSS_DATABASE_URL: db?.url ?? "" };
      const usage = await vss(["admin", "usage"], dbEnv);
      expect(usage.code).toBe(0);
      expect(usage.stdout).toContain(identity);
      const refused = await vss(["admin", "delete-identity", identity], dbEnv, "not it\n");
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/not confirmed/);
      const deleted = await vss(["admin", "delete-identity", identity], dbEnv, `${identity}\n`);
      expect(deleted.code).toBe(0);
      expect((await vss(["admin", "usage"], dbEnv)).stdout).not.toContain(identity);
    },
  );
});
