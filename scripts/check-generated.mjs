// Fails when committed generated code is stale: gen/ must equal what
// `buf generate` makes from proto/, and drizzle/ must hold a migration for
// every change of src/storage/schema.ts.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

const binDir = join(process.cwd(), "node_modules", ".bin");
const bin = (name) => join(binDir, name);
// buf finds the local protoc-gen-es plugin on PATH.
const env = { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ""}` };
const run = (cmd, args) =>
  execFileSync(cmd, args, { env, stdio: ["ignore", "pipe", "inherit"] }).toString();
const backup = mkdtempSync(join(tmpdir(), "vss-gen-"));
let failed = false;
try {
  cpSync("gen", join(backup, "gen"), { recursive: true });
  run(bin("buf"), ["generate"]);
  const diff = run("git", ["status", "--porcelain", "--", "gen"]).trim();
  if (diff !== "") {
    failed = true;
    console.error(`gen/ is stale: run \`npm run generate\` and commit the result.\n${diff}`);
  }
  const drizzle = run(bin("drizzle-kit"), ["generate", "--name", "freshness-check"]);
  const added = run("git", ["status", "--porcelain", "--", "drizzle"]).trim();
  if (added !== "") {
    failed = true;
    console.error(
      `drizzle/ is stale: src/storage/schema.ts changed without \`npm run db:generate\`.\n${drizzle}`,
    );
    run("git", ["checkout", "--", "drizzle"]);
    run("git", ["clean", "-fdq", "--", "drizzle"]);
  }
} finally {
  if (failed) {
    rmSync("gen", { recursive: true, force: true });
    cpSync(join(backup, "gen"), "gen", { recursive: true });
  }
  rmSync(backup, { recursive: true, force: true });
}
if (failed) process.exit(1);
console.log("generated code is fresh: gen/ and drizzle/");
