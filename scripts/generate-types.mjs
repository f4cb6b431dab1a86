#!/usr/bin/env node
// Generates packages/xds-types/src/gen from the protos @grpc/grpc-js-xds ships.
//
// The shipped tree cannot be compiled as it is, so it is staged first in a
// temporary folder where we:
//   * keep only the v3 API (v2 / v2alpha / v3alpha folders are dropped),
//   * fill imports the package lacks from google-proto-files (a devDependency
//     carrying googleapis, e.g. google/api/expr for RBAC and CEL), taking only
//     the files actually imported,
//   * drop every file that still imports a proto nobody carries (opencensus,
//     opentelemetry, prometheus, servicecontrol, …), repeatedly, until the
//     remaining set is closed under imports,
//   * add `ignore_empty` to validate.proto's StringRules (field 26, as in
//     protoc-gen-validate upstream): the copy shipped beside the Envoy API is
//     older than the API, which uses it on string rules. Kept, not stripped,
//     so the rule checker knows which fields skip their rules when empty; a
//     use on any other rule kind makes generation fail instead of passing
//     silently.
// Then buf runs protoc-gen-es over the staged workspace.
//
// `--check` regenerates into a scratch folder and fails if the result differs
// from what is committed.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const genDir = path.join(root, "packages/xds-types/src/gen");
const check = process.argv.includes("--check");

function fail(message) {
  console.error(`generate-types: ${message}`);
  process.exit(1);
}

const require = createRequire(path.join(root, "package.json"));

function findExtraGoogleapis() {
  try {
    return path.dirname(require.resolve("google-proto-files/package.json"));
  } catch {
    fail("google-proto-files is not installed. It is a devDependency of the repo root: run `npm ci` first.");
  }
}

function findDeps() {
  let pkgJson;
  try {
    pkgJson = require.resolve("@grpc/grpc-js-xds/package.json");
  } catch {
    fail("@grpc/grpc-js-xds is not installed. It is a devDependency of the repo root: run `npm ci` first.");
  }
  const deps = path.join(path.dirname(pkgJson), "deps");
  const expected = [
    "envoy-api/envoy/service/discovery/v3/discovery.proto",
    "xds/xds/core/v3/resource_locator.proto",
    "googleapis/google/rpc/status.proto",
    "protoc-gen-validate/validate/validate.proto",
  ];
  for (const rel of expected) {
    if (!fs.existsSync(path.join(deps, rel))) {
      fail(
        `expected ${rel} under ${deps}, but it is not there. ` +
          "The layout of @grpc/grpc-js-xds/deps changed: update the roots in scripts/generate-types.mjs and buf.yaml.",
      );
    }
  }
  return deps;
}

function walk(dir, out = []) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (entry.name.endsWith(".proto")) out.push(full);
  }
  return out;
}

function addIgnoreEmpty(text) {
  const anchor = /(\n\s*optional bool strict = 25 \[default = true\];)/;
  if (text.includes("ignore_empty")) return text;
  if (!anchor.test(text))
    fail("validate/validate.proto: StringRules.strict (field 25) not found; cannot add ignore_empty");
  return text.replace(
    anchor,
    "$1\n\n  // Added by xdskit's generator, as upstream: skip the rules when the value is empty.\n  optional bool ignore_empty = 26;",
  );
}

const LEGACY_VERSION_DIR = /^v(2|2alpha\d*|3alpha|2beta\d*|1alpha\d*)$/;
// Folders of googleapis whose protos need packages the deps do not carry.
const DROPPED_GOOGLEAPIS = ["google/api/servicecontrol", "google/api/servicemanagement"];

function stage(deps, extra, staging) {
  // root name -> list of {rel, text}
  const files = new Map();
  const roots = ["envoy-api", "xds", "googleapis", "protoc-gen-validate"];
  for (const r of roots) {
    const base = path.join(deps, r);
    let list = walk(base).map((f) => path.relative(base, f).split(path.sep).join("/"));
    if (r === "protoc-gen-validate") list = list.filter((f) => f === "validate/validate.proto");
    list = list.filter((f) => !f.split("/").some((seg) => LEGACY_VERSION_DIR.test(seg)));
    if (r === "envoy-api") list = list.filter((f) => !f.startsWith("envoy/api/"));
    if (r === "googleapis") list = list.filter((f) => !DROPPED_GOOGLEAPIS.some((d) => f.startsWith(`${d}/`)));
    for (const rel of list) {
      let text = fs.readFileSync(path.join(base, rel), "utf8");
      if (rel === "validate/validate.proto") text = addIgnoreEmpty(text);
      files.set(rel, { root: r, text });
    }
  }
  const importRe = /^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm;
  const importsOf = new Map();
  for (const [rel, f] of files)
    importsOf.set(
      rel,
      [...f.text.matchAll(importRe)].map((m) => m[1]),
    );
  // buf provides the well-known types itself.
  const available = (imp) => files.has(imp) || imp.startsWith("google/protobuf/");
  // Pull missing google/* imports (and what they import) from google-proto-files.
  const queue = [...importsOf.values()].flat();
  while (queue.length > 0) {
    const imp = queue.pop();
    if (available(imp) || !imp.startsWith("google/")) continue;
    const src = path.join(extra, imp);
    if (!fs.existsSync(src)) continue;
    const text = fs.readFileSync(src, "utf8");
    files.set(imp, { root: "googleapis", text });
    const imps = [...text.matchAll(importRe)].map((m) => m[1]);
    importsOf.set(imp, imps);
    queue.push(...imps);
  }
  const dropped = [];
  for (let changed = true; changed; ) {
    changed = false;
    for (const [rel] of files) {
      const missing = importsOf.get(rel).find((imp) => !available(imp));
      if (missing) {
        files.delete(rel);
        dropped.push(`${rel} (imports ${missing})`);
        changed = true;
      }
    }
  }
  for (const [rel, f] of files) {
    const dest = path.join(staging, f.root, rel);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, f.text);
  }
  fs.copyFileSync(path.join(root, "buf.yaml"), path.join(staging, "buf.yaml"));
  return { kept: files.size, dropped };
}

function runBuf(staging, outDir) {
  const template = fs.readFileSync(path.join(root, "buf.gen.yaml"), "utf8");
  const rewritten = template.replace(/out:\s*packages\/xds-types\/src\/gen/, `out: ${JSON.stringify(outDir)}`);
  if (rewritten === template) fail("buf.gen.yaml no longer names packages/xds-types/src/gen as its output");
  const templatePath = path.join(staging, "buf.gen.yaml");
  fs.writeFileSync(templatePath, rewritten);
  const bin = path.join(root, "node_modules/.bin");
  const res = spawnSync(path.join(bin, "buf"), ["generate", "--template", templatePath], {
    cwd: staging,
    stdio: "inherit",
    env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}` },
  });
  if (res.error) fail(`could not run buf: ${res.error.message}`);
  if (res.status !== 0) fail(`buf generate exited with ${res.status}`);
}

function listTree(dir) {
  return walk2(dir).sort();
  function walk2(d, acc = [], prefix = "") {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory()) walk2(path.join(d, e.name), acc, rel);
      else acc.push(rel);
    }
    return acc;
  }
}

// One module that imports every generated file, so that a full registry (for
// anyUnpack and JSON of any extension) can be built without listing 400 paths
// by hand. Only @xdskit/xds-types/registry imports it.
function writeFileIndex(out) {
  const files = listTree(out).filter((f) => f.endsWith("_pb.ts"));
  const lines = [
    "// @generated by scripts/generate-types.mjs: every generated file descriptor, for the full registry.",
    "/* eslint-disable */",
    "",
    'import type { GenFile } from "@bufbuild/protobuf/codegenv2";',
  ];
  const names = [];
  for (const f of files) {
    const text = fs.readFileSync(path.join(out, f), "utf8");
    const m = text.match(/^export const (file_[A-Za-z0-9_]+): GenFile/m);
    if (!m) fail(`no file descriptor export found in generated ${f}`);
    names.push(m[1]);
    lines.push(`import { ${m[1]} } from "./${f.replace(/\.ts$/, ".js")}";`);
  }
  lines.push("", "export const allFiles: readonly GenFile[] = [", ...names.map((n) => `  ${n},`), "];", "");
  fs.writeFileSync(path.join(out, "all_files.ts"), lines.join("\n"));
}

const deps = findDeps();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-gen-"));
try {
  const staging = path.join(tmp, "protos");
  const { kept, dropped } = stage(deps, findExtraGoogleapis(), staging);
  const out = check ? path.join(tmp, "out") : genDir;
  runBuf(staging, out);
  writeFileIndex(out);
  const generated = listTree(out).filter((f) => f.endsWith(".ts"));
  console.log(
    `generate-types: ${kept} protos compiled, ${dropped.length} dropped for missing imports, ${generated.length} files written`,
  );
  if (process.env.XDSKIT_GEN_VERBOSE) for (const d of dropped) console.log(`  dropped ${d}`);
  if (check) {
    if (!fs.existsSync(genDir)) fail("packages/xds-types/src/gen does not exist: run `npm run generate` and commit it");
    const committed = listTree(genDir);
    const fresh = listTree(out);
    const diffs = [];
    const all = new Set([...committed, ...fresh]);
    for (const f of all) {
      const a = committed.includes(f) ? fs.readFileSync(path.join(genDir, f), "utf8") : null;
      const b = fresh.includes(f) ? fs.readFileSync(path.join(out, f), "utf8") : null;
      if (a !== b) diffs.push(a === null ? `+ ${f}` : b === null ? `- ${f}` : `~ ${f}`);
    }
    if (diffs.length > 0) {
      fail(
        `generated code is out of date (${diffs.length} files differ):\n  ${diffs.slice(0, 20).join("\n  ")}\n` +
          "run `npm run generate` and commit the result",
      );
    }
    console.log("generate-types: committed code matches a fresh generation");
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
