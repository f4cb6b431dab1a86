#!/usr/bin/env node
// Packs every package as npm would publish it, installs the tarballs into a
// project outside the repository, and type-checks (strictly, without
// skipLibCheck) and loads every public entry point there — what an adopter's
// `npm install` gets. Run after `npm run build`.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runWalkthrough } from "./pack-walkthrough.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const packages = [
  "xds-types",
  "snapshot",
  "ads-server",
  "config-generator",
  "adsc",
  "admin",
  "source-etcd",
  "source-kubernetes",
  "source-istio",
  "mesh-ca",
];
const work = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-pack-"));
const tarballs = path.join(work, "tarballs");
const outside = path.join(work, "adopter");
fs.mkdirSync(tarballs);
fs.mkdirSync(outside);

const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
const rootPkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));

try {
  const deps = {};
  const entries = [];
  for (const p of packages) {
    const dir = path.join(root, "packages", p);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
    for (const field of ["license", "engines", "repository"]) {
      if (!pkg[field]) throw new Error(`${pkg.name}: package.json has no "${field}"`);
    }
    // A README's links must work inside the tarball: none may leave the package.
    const readme = fs.readFileSync(path.join(dir, "README.md"), "utf8");
    const outsideLinks = [...readme.matchAll(/\]\((\.\.\/[^)]*)\)/g)].map((m) => m[1]);
    if (outsideLinks.length > 0)
      throw new Error(`${pkg.name}: README.md links outside the package: ${outsideLinks.join(", ")}`);
    const file = run("npm", ["pack", "--silent", "--pack-destination", tarballs], dir).trim().split("\n").pop();
    const listing = run("tar", ["-tzf", path.join(tarballs, file)], work);
    for (const must of ["package/LICENSE", "package/README.md", "package/package.json"]) {
      if (!listing.includes(must)) throw new Error(`${pkg.name}: the tarball lacks ${must.slice(8)}`);
    }
    const tests = listing.split("\n").filter((f) => /\.test\.(ts|js|d\.ts)/.test(f));
    if (tests.length > 0) throw new Error(`${pkg.name}: the tarball ships tests: ${tests.slice(0, 3).join(", ")}`);
    deps[pkg.name] = `file:${path.join(tarballs, file)}`;
    for (const [sub, target] of Object.entries(pkg.exports ?? {})) {
      if (sub === "./package.json" || sub.includes("*") || typeof target !== "object") continue;
      entries.push(sub === "." ? pkg.name : `${pkg.name}/${sub.slice(2)}`);
    }
  }
  // Third-party peers at the versions the repository uses, and the proxyless client docs/embedding.md runs.
  for (const name of ["@bufbuild/protobuf", "@grpc/grpc-js", "prom-client"]) deps[name] = rootPkg.dependencies[name];
  deps["@grpc/grpc-js-xds"] = rootPkg.devDependencies["@grpc/grpc-js-xds"];
  const devDependencies = {
    typescript: rootPkg.devDependencies.typescript,
    "@types/node": rootPkg.devDependencies["@types/node"],
  };
  fs.writeFileSync(
    path.join(outside, "package.json"),
    JSON.stringify(
      { name: "xdskit-adopter", private: true, type: "module", dependencies: deps, devDependencies },
      null,
      2,
    ),
  );
  fs.writeFileSync(
    path.join(outside, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: false,
        noEmit: true,
        types: ["node"],
      },
      files: ["adopter.ts"],
    }),
  );
  // Every entry imported, and the usual path written out by a host.
  const imports = entries.map((e, i) => `import * as m${i} from "${e}";`).join("\n");
  fs.writeFileSync(
    path.join(outside, "adopter.ts"),
    `${imports}
import { createAdsServer } from "@xdskit/ads-server";
import { createDiscoveryController, createMemorySource } from "@xdskit/config-generator";
import { startAdminServer } from "@xdskit/admin";
import { TypeUrl } from "@xdskit/xds-types";
import { type EtcdSource, createEtcdSource } from "@xdskit/source-etcd";
import { type KubernetesSource, createKubernetesSource, podNodePolicy } from "@xdskit/source-kubernetes";
import { type IstioFolderSource, createIstioFolderSource } from "@xdskit/source-istio";
import type { Cluster } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
export const loaded = [${entries.map((_, i) => `m${i}`).join(", ")}].length;
const source = createMemorySource();
source.setService({ name: "echo", endpoints: [{ address: "10.0.0.1", port: 8080 }] });
const controller = createDiscoveryController({ services: source, config: source });
const ads = createAdsServer({ registry: controller.registry });
const port: Promise<number> = ads.listen("127.0.0.1:0");
const admin = startAdminServer({ ads, controller, port: 0 });
const first: Cluster | undefined = undefined;
// Typed only: nothing here talks to etcd.
const makeEtcd: () => EtcdSource = () => createEtcdSource({ endpoints: ["http://127.0.0.1:2379"] });
// Typed only: nothing here talks to a cluster.
const makeKube = (kubeconfig: string): { source: KubernetesSource; ads: ReturnType<typeof createAdsServer> } => {
  const cluster = createKubernetesSource({ kubeconfig, namespaces: ["team-a"] });
  const c = createDiscoveryController({ services: cluster });
  return { source: cluster, ads: createAdsServer({ registry: c.registry, authorize: podNodePolicy(cluster) }) };
};
// Typed only: no folder is read here.
const makeIstio = (dir: string): IstioFolderSource => {
  const istio = createIstioFolderSource({ dir });
  createDiscoveryController({ services: istio, config: istio });
  return istio;
};
export { port, admin, first, makeEtcd, makeKube, makeIstio, TypeUrl };
`,
  );
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], outside);
  run(path.join(outside, "node_modules/.bin/tsc"), ["-p", "."], outside);
  // And every entry loads in Node.
  run(
    process.execPath,
    ["--input-type=module", "-e", entries.map((e) => `await import(${JSON.stringify(e)});`).join("")],
    outside,
  );
  // The CLIs the packages install answer --help from the adopter's tree.
  for (const bin of ["xdskit-adsc", "xdskit-mesh"]) {
    const help = run(path.join(outside, "node_modules/.bin", bin), ["--help"], outside);
    if (!/usage/i.test(help)) throw new Error(`${bin} --help printed no usage: ${help.slice(0, 200)}`);
  }
  console.log(
    `check-pack: ${packages.length} packages packed, installed outside the repository, ${entries.length} entry points type-checked strictly and loaded, CLIs run`,
  );
  // The embedding guide, followed as a newcomer would, in the same outside project.
  const walk = path.join(outside, "walkthrough");
  fs.mkdirSync(walk);
  fs.writeFileSync(
    path.join(walk, "package.json"),
    JSON.stringify({ name: "walkthrough", private: true, type: "module" }),
  );
  const started = Date.now();
  console.log(
    `${await runWalkthrough(path.join(root, "docs/embedding.md"), walk)} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
} catch (err) {
  const e = err;
  console.error(`check-pack: ${e.message}${e.stdout ? `\n${e.stdout}` : ""}${e.stderr ? `\n${e.stderr}` : ""}`);
  process.exitCode = 1;
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
