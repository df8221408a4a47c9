import { type ChildProcess, spawn } from "node:child_process";

/** The server as a real process, the way `npm start` runs it. */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** The JSON lines the process has written to stdout so far (with `keepLogs` only). */
  logLines(): Record<string, unknown>[];
  /** Resolves with how the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `src/main.ts` with `env` on a free port; resolves once it listens.
 * Its output is kept only with `keepLogs` (a benchmark's would fill memory).
 */
export function startServerProcess(
  env: Record<string, string>,
  options: { keepLogs?: boolean } = {},
): Promise<ServerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: { ...process.env, VSS_BIND_ADDRESS: "127.0.0.1:0", VSS_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`server did not start:\n${output}`));
    }, 60_000);
    let started = false;
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const url = started ? undefined : /"url":"(https?:\/\/[^"]+)"/.exec(output)?.[1];
      if (url !== undefined) {
        started = true;
        clearTimeout(timer);
        if (options.keepLogs !== true) {
          // Keep draining the pipes so a chatty server never blocks on them.
          child.stdout?.removeAllListeners("data");
          child.stdout?.resume();
          output = "";
        }
        const logLines = () =>
          output
            .split("\n")
            .slice(0, -1) // the last piece is an unfinished line (or "")
            .filter((line) => line.startsWith("{"))
            .map((line) => JSON.parse(line) as Record<string, unknown>);
        resolve({ child, url, exited, logLines });
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
}
