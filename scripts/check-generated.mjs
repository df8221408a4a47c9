// Fails when generated code is stale: gen/ must equal what `buf generate`
// makes from proto/, and drizzle/ must already hold a migration for every
// change of src/storage/schema.ts. Whatever it regenerates, it puts back.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, relative } from "node:path";

const binDir = join(process.cwd(), "node_modules", ".bin");
// buf finds the local protoc-gen-es plugin on PATH.
const env = { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ""}` };
const run = (cmd, args) =>
  execFileSync(join(binDir, cmd), args, { env, stdio: ["ignore", "pipe", "inherit"] }).toString();

/** Every file below `dir` with its content. */
function snapshot(dir) {
  const files = new Map();
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path, "utf8"));
    }
  };
  walk(dir);
  return files;
}

function differences(before, after) {
  const changed = [];
  for (const [path, text] of after) if (before.get(path) !== text) changed.push(path);
  for (const path of before.keys()) if (!after.has(path)) changed.push(`${path} (removed)`);
  return changed;
}

const stale = [];
for (const [dir, regenerate, hint] of [
  ["gen", () => run("buf", ["generate"]), "run `npm run generate`"],
  [
    "drizzle",
    () => run("drizzle-kit", ["generate", "--name", "freshness-check"]),
    "src/storage/schema.ts changed: run `npm run db:generate`",
  ],
]) {
  const backup = mkdtempSync(join(tmpdir(), `vss-check-${dir}-`));
  cpSync(dir, backup, { recursive: true });
  const before = snapshot(dir);
  try {
    regenerate();
    const changed = differences(before, snapshot(dir));
    if (changed.length > 0) stale.push(`${dir}/ is stale (${hint}): ${changed.join(", ")}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    cpSync(backup, dir, { recursive: true });
    rmSync(backup, { recursive: true, force: true });
  }
}
if (stale.length > 0) {
  console.error(stale.join("\n"));
  process.exit(1);
}
console.log("generated code is fresh: gen/ and drizzle/");
