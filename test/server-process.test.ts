import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBinaryClient } from "./support/binary-client.js";
import { createTestSigner } from "./support/rust-signature.js";

/** Starts `npm start`'s entry point as a real process; resolves with its URL. */
function startProcess(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: {
      ...process.env,
      VSS_BIND_ADDRESS: "127.0.0.1:0",
      VSS_DATA_DIR: dataDir,
      VSS_LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 60_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const url = /"url":"(http:\/\/[^"]+)"/.exec(output)?.[1];
      if (url !== undefined) {
        clearTimeout(timer);
        resolve({ child, url });
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );

describe("the server as a process on the embedded store", () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "vss-proc-"));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it("keeps acknowledged writes across SIGTERM and SIGKILL, and exits 0 on SIGTERM", async () => {
    const signer = createTestSigner();
    const bytes = (s: string) => new TextEncoder().encode(s);

    const first = await startProcess(dataDir);
    const c1 = createBinaryClient(first.url, () => signer.header());
    await c1.putObjects({
      storeId: "w",
      globalVersion: 0n,
      transactionItems: [{ key: "a", version: 0n, value: bytes("1") }],
    });
    const stopped = exited(first.child);
    first.child.kill("SIGTERM");
    expect(await stopped).toEqual({ code: 0, signal: null });

    const second = await startProcess(dataDir);
    const c2 = createBinaryClient(second.url, () => signer.header());
    expect((await c2.getObject({ storeId: "w", key: "a" })).value?.version).toBe(1n);
    for (let i = 0; i < 20; i++) {
      await c2.putObjects({
        storeId: "w",
        globalVersion: BigInt(i + 1),
        transactionItems: [{ key: `k${i}`, version: 0n, value: bytes(String(i)) }],
      });
    }
    // Killed without warning right after the last acknowledgement.
    const killed = exited(second.child);
    second.child.kill("SIGKILL");
    await killed;

    const third = await startProcess(dataDir);
    try {
      const c3 = createBinaryClient(third.url, () => signer.header());
      expect((await c3.getObject({ storeId: "w", key: "global_version" })).value?.version).toBe(
        21n,
      );
      const page = await c3.listKeyVersions({ storeId: "w" });
      expect(page.keyVersions).toHaveLength(21);
    } finally {
      const done = exited(third.child);
      third.child.kill("SIGTERM");
      await done;
    }
  });
});
