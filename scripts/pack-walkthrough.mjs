// docs/embedding.md, followed to the letter in an outside project: its code
// blocks tagged `file=NAME` are written out, compiled strictly, and run —
// backends, the control plane, a real grpc-js-xds client — and what the page
// promises is checked: a tenth of the calls to v2, the builder's policy on
// every cluster of the critical service (subsets included), the first build
// on the push-status page, and a broken inventory refused once while the last
// good one is served.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

/** The files the page asks for: `{ name: text }` from fences whose info string has `file=NAME`. */
export function blocksOf(markdown) {
  const files = {};
  const fence = /^```[a-z]*\s+file=(\S+)\n([\s\S]*?)^```$/gm;
  for (const m of markdown.matchAll(fence)) files[m[1]] = m[2];
  return files;
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });

async function until(what, fn, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`walkthrough: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Builds and runs the walkthrough in `dir` (inside a project whose
 * node_modules has the packages, typescript and @grpc/grpc-js-xds); throws
 * naming what the page promised and did not happen. Returns a summary line.
 */
export async function runWalkthrough(docFile, dir) {
  const files = blocksOf(fs.readFileSync(docFile, "utf8"));
  for (const must of ["tsconfig.json", "inventory.json", "src/control-plane.ts", "src/client.ts", "src/backend.ts"]) {
    if (!files[must]) throw new Error(`walkthrough: ${path.basename(docFile)} has no block file=${must}`);
  }
  const [p1, p2, xds, admin] = [await freePort(), await freePort(), await freePort(), await freePort()];
  // The page's inventory, on free ports.
  const inventory = JSON.parse(files["inventory.json"]);
  const echo = inventory.services[0];
  echo.port = p1;
  echo.endpoints[0].port = p1;
  echo.endpoints[1].port = p2;
  files["inventory.json"] = JSON.stringify(inventory, null, 2);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  const tsc = path.resolve(dir, "../node_modules/.bin/tsc");
  execFileSync(tsc, ["-p", "."], { cwd: dir, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });

  const children = [];
  const start = (args) => {
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    child.out = "";
    child.stdout.on("data", (d) => (child.out += d));
    child.stderr.on("data", (d) => (child.out += d));
    children.push(child);
    return child;
  };
  try {
    start(["dist/backend.js", "v1", String(p1)]);
    start(["dist/backend.js", "v2", String(p2)]);
    const cp = start(["dist/control-plane.js", "inventory.json", String(xds), String(admin)]);
    const page = async (p) => {
      const res = await fetch(`http://127.0.0.1:${admin}${p}`);
      return res.ok ? res.json() : undefined;
    };
    const healthy = () => fetch(`http://127.0.0.1:${admin}/readyz`).then((r) => (r.ok ? true : undefined));
    await until("the control plane to be ready", healthy, 20_000);

    const client = start(["dist/client.js", `127.0.0.1:${xds}`, "200"]);
    const code = await new Promise((r) => client.on("exit", r));
    if (code !== 0) throw new Error(`walkthrough: the client exited with ${code}:\n${client.out}\n${cp.out}`);
    const answers = JSON.parse(client.out.trim().split("\n").pop());
    const v2 = answers.v2 ?? 0;
    if ((answers.v1 ?? 0) + v2 !== 200 || v2 < 5 || v2 > 45) {
      throw new Error(`walkthrough: 200 calls should send about a tenth to v2, got ${JSON.stringify(answers)}`);
    }

    // The builder's policy on every cluster of echo, as a proxyless client sees them.
    const adsc = path.resolve(dir, "../node_modules/.bin/xdskit-adsc");
    const dump = JSON.parse(
      execFileSync(adsc, ["dump", "--server", `127.0.0.1:${xds}`, "--proxyless", "--node", "walkthrough"], {
        cwd: dir,
        encoding: "utf8",
      }),
    );
    const cds = dump.configs.find((c) => c.typeUrl === "type.googleapis.com/envoy.config.cluster.v3.Cluster");
    const clusters = (cds?.resources ?? []).map((r) => r.resource).filter((c) => String(c.name).endsWith("|echo"));
    const names = clusters.map((c) => c.name).sort();
    const want = [`outbound|${p1}|v1|echo`, `outbound|${p1}|v2|echo`, `outbound|${p1}||echo`].sort();
    if (JSON.stringify(names) !== JSON.stringify(want)) {
      throw new Error(`walkthrough: expected the clusters ${want.join(", ")}, got ${names.join(", ")}`);
    }
    for (const c of clusters) {
      const max = c.circuitBreakers?.thresholds?.[0]?.maxRequests;
      const threshold = c.outlierDetection?.failurePercentageThreshold;
      if (max !== 100 || threshold !== 50) {
        throw new Error(`walkthrough: ${c.name} lacks the builder's policy: ${JSON.stringify(c)}`);
      }
    }
    const pushes = (await page("/debug/push_status"))?.pushes ?? [];
    if (!pushes.some((p) => p.reasons.some((r) => r.startsWith("first client of node group")))) {
      throw new Error(
        `walkthrough: /debug/push_status does not show the first client's build: ${JSON.stringify(pushes)}`,
      );
    }

    // A broken inventory is refused once, with its reason, and the last good one stays.
    const good = fs.readFileSync(path.join(dir, "inventory.json"), "utf8");
    const refusals = () => cp.out.split("\n").filter((l) => l.startsWith("refused")).length;
    fs.writeFileSync(path.join(dir, "inventory.json"), `${good},`);
    await until("the refusal of a broken inventory", async () => (refusals() >= 1 ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 1000));
    if (refusals() !== 1) throw new Error(`walkthrough: one broken file was reported ${refusals()} times:\n${cp.out}`);
    fs.writeFileSync(path.join(dir, "inventory.json"), good.replace(`"port": ${p2}`, '"port": 70000'));
    await until("the refusal of a bad port", async () => (refusals() >= 2 ? true : undefined), 10_000);
    if (!/endpoints\[1\]\.port: port must be a whole number from 1 to 65535, got 70000/.test(cp.out)) {
      throw new Error(`walkthrough: the refusal does not name the field:\n${cp.out}`);
    }
    const again = start(["dist/client.js", `127.0.0.1:${xds}`, "20"]);
    const again2 = await new Promise((r) => again.on("exit", r));
    if (again2 !== 0) throw new Error(`walkthrough: calls failed while a bad inventory was refused:\n${again.out}`);
    return `walkthrough: docs/embedding.md built and run outside the repository (${Object.keys(files).length} files; ${JSON.stringify(answers)} for 200 calls; policy on ${clusters.length} clusters; refusals reported once)`;
  } finally {
    for (const c of children) c.kill("SIGKILL");
  }
}
