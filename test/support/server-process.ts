import { type ChildProcess, spawn } from "node:child_process";

/** The server as a real process, the way `npm start` runs it. */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** The JSON lines the process has written to stdout so far. */
  logLines(): Record<string, unknown>[];
  /** Resolves with how the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `src/main.ts` with `env` on a free port; resolves once it listens. */
export function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
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
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const url = /"url":"(https?:\/\/[^"]+)"/.exec(output)?.[1];
      if (url !== undefined) {
        clearTimeout(timer);
        const logLines = () =>
          output
            .split("\n")
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
