#!/usr/bin/env node
// Runs @arethetypeswrong/cli on every published package's exports map
// (ESM-only profile). Needs the packages built (`npm run build`).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(root, "node_modules/.bin/attw");
let failed = 0;
for (const name of fs.readdirSync(path.join(root, "packages")).sort()) {
  const dir = path.join(root, "packages", name);
  if (!fs.existsSync(path.join(dir, "package.json"))) continue;
  // A package folder with no source yet is a placeholder of the workspace, not a package to check.
  if (!fs.existsSync(path.join(dir, "src/index.ts"))) {
    console.log(`check-exports: packages/${name} has no src/index.ts yet; nothing to check`);
    continue;
  }
  if (!fs.existsSync(path.join(dir, "dist"))) {
    console.error(`check-exports: packages/${name} has no dist/: run \`npm run build\` first`);
    failed++;
    continue;
  }
  const res = spawnSync(bin, ["--pack", dir, "--profile", "esm-only", "--format", "table-flipped"], {
    cwd: root,
    encoding: "utf8",
  });
  const ok = res.status === 0;
  console.log(`check-exports: packages/${name} ${ok ? "ok" : "FAILED"}`);
  if (!ok) {
    failed++;
    process.stdout.write(res.stdout);
    process.stderr.write(res.stderr);
  }
}
process.exit(failed > 0 ? 1 : 0);
