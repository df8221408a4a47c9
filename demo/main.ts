// `npm run demo`: bundles the browser wallet demo and serves it on
// http://127.0.0.1:5173 (or the port given as first argument).
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildDemo, serveDemo } from "./build.js";

const portArg = process.argv[2];
const port = portArg === undefined ? 5173 : Number(portArg);
if (!Number.isInteger(port) || port < 1 || port > 65_535) {
  console.error(`not a port: ${portArg}`);
  process.exit(2);
}
const outdir = join(fileURLToPath(new URL(".", import.meta.url)), "dist");
const { bytes } = await buildDemo(outdir);
const { url } = await serveDemo(outdir, { port });
console.log(`demo bundle: ${(bytes / 1024).toFixed(0)} KiB in ${outdir}`);
console.log(`open ${url}/ in a browser, with a VSS server started by:`);
console.log(`  VSS_CORS_ORIGINS=${url} npm start`);
console.log("(open a second tab to see a conflict; Ctrl-C stops the demo)");
