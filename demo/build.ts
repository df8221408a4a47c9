import { copyFile, mkdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const demoDir = dirname(fileURLToPath(import.meta.url));
const STATIC_FILES = ["index.html", "style.css"];

/**
 * Bundles the demo page into `outdir` (app.js plus the static files). The page
 * imports `vss-server-ts/client` by its package name, so esbuild resolves it
 * the way it would in a wallet's own project: through the package's exports
 * to dist/ (run `npm run build` first) and its `browser` field.
 */
export async function buildDemo(outdir: string): Promise<{ bytes: number }> {
  await mkdir(outdir, { recursive: true });
  await esbuild.build({
    entryPoints: [join(demoDir, "app.ts")],
    outfile: join(outdir, "app.js"),
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    minify: true,
    sourcemap: true,
    logLevel: "warning",
    // Not the repository's tsconfig, whose `paths` point type-checking at the
    // client's sources: the bundle must use the package as published.
    tsconfigRaw: {},
  });
  await Promise.all(STATIC_FILES.map((f) => copyFile(join(demoDir, f), join(outdir, f))));
  return { bytes: (await stat(join(outdir, "app.js"))).size };
}

/** Serves `outdir` over HTTP with esbuild's static file server; resolves once listening. */
export async function serveDemo(
  outdir: string,
  options: { host?: string; port?: number } = {},
): Promise<{ url: string; stop: () => Promise<void> }> {
  const context = await esbuild.context({});
  const { port } = await context.serve({
    servedir: outdir,
    host: options.host ?? "127.0.0.1",
    ...(options.port === undefined ? {} : { port: options.port }),
  });
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    stop: () => context.dispose(),
  };
}
