// Istio's traffic-management tasks with a real Envoy sidecar: Istio
// resources in a folder (interop/src/istio/config), minimal-pilot reading
// them, and an application in a network namespace whose connections
// iptables sends to Envoy, as Istio's init container does. Every task is
// observed on the wire (which backend answered, status, latency) and Envoy
// rejects nothing. Needs root, `ip` and `iptables`.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const NS = `xdskit-istio-${process.pid}`;

type Result = Record<string, unknown> & {
  weighted: Record<string, number>;
  byHeader: Record<string, number>;
  delay: { status: number; ms: number };
  abort: { status: number };
  timeout: { status: number; ms: number };
  retry: { status: number; body: string; attempts: number };
  mirror: { answer: string; copyHost: string; copyPath: string };
  redirect: { status: number; location: string };
  rewrite: { body: string; sawRoute: string };
  responseHeaders: { internal: string | null; backend: string };
  tcp: Record<string, number>;
  egressRestricted: { serviceEntry: string; otherNamespace: number; unknown: number };
  egressOpen: { otherNamespace: string; unknown: string };
  routeConfigs: string[];
  clusters: string[];
  rejections: string[];
  ingress: { status: number; body: string };
};

describe("Istio's traffic tasks with a real Envoy sidecar (network namespace + iptables)", () => {
  let r: Result;

  before(() => {
    if (process.getuid?.() !== 0) throw new Error("this test creates a network namespace and needs root");
    for (const c of ["ip", "iptables", "setpriv"])
      if (spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0)
        throw new Error(`this test needs \`${c}\` (Debian: apt-get install -y ${c === "ip" ? "iproute2" : c})`);
    execFileSync("ip", ["netns", "add", NS]);
    const run = spawnSync(
      "ip",
      ["netns", "exec", NS, process.execPath, "--import", "tsx", "interop/src/istio/sidecar-scenario.ts"],
      { cwd: ROOT, encoding: "utf8", timeout: 150_000 },
    );
    if (run.status !== 0) throw new Error(`the scenario failed:\n${run.stderr}`);
    r = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as Result;
    if (r.error) throw new Error(`the scenario failed: ${r.error}\nenvoy:\n${r.envoyLog}\npilot:\n${r.pilotLog}`);
  });

  after(() => {
    spawnSync("ip", ["netns", "del", NS]);
  });

  it("Envoy accepted every resource", () => {
    assert.deepEqual(r.rejections, []);
    assert.deepEqual(r.routeConfigs, ["80", "9080"]);
    for (const c of [
      "outbound|9080|v1|reviews.default.svc.cluster.local",
      "outbound|9080|v2|reviews.default.svc.cluster.local",
      "outbound|9080|v3|reviews.default.svc.cluster.local",
      "outbound|5432|v1|db.default.svc.cluster.local",
      "outbound|80||httpbin.example.org",
    ])
      assert.ok(r.clusters.includes(c), `${c} in Envoy's clusters`);
  });

  it("a Sidecar's ingress: a connection to the workload's port 9080 reaches the application on 127.0.0.1:8080", () => {
    assert.deepEqual(r.ingress, { status: 200, body: "productpage-app /inbound" });
  });

  it("weighted routing across subsets: 75/25 over v1 and v3", () => {
    const v1 = r.weighted["reviews-v1"] ?? 0;
    const v3 = r.weighted["reviews-v3"] ?? 0;
    assert.equal(v1 + v3, 200, JSON.stringify(r.weighted));
    assert.ok(v1 >= 120 && v1 <= 175, `v1 took ${v1} of 200`);
  });

  it("routing by header: end-user jason always reaches v2", () => {
    assert.deepEqual(r.byHeader, { "reviews-v2": 20 });
  });

  it("fault injection: a 1 s delay for jason, an abort with 418 on a header", () => {
    assert.equal(r.delay.status, 200);
    assert.ok(r.delay.ms >= 950, `delayed ${r.delay.ms} ms`);
    assert.equal(r.abort.status, 418);
  });

  it("request timeout: a 3 s answer is cut at the route's 500 ms with 504", () => {
    assert.equal(r.timeout.status, 504);
    assert.ok(r.timeout.ms >= 450 && r.timeout.ms < 2000, `${r.timeout.ms} ms`);
  });

  it("retries: a 503 is retried and the second attempt answers", () => {
    assert.deepEqual(r.retry, { status: 200, body: "reviews-v1 /flaky", attempts: 2 });
  });

  it("traffic mirroring: ratings gets a copy (Host with -shadow) while v1 answers", () => {
    assert.equal(r.mirror.answer, "reviews-v1 /mirror/me");
    assert.equal(r.mirror.copyHost, "reviews-shadow");
    assert.equal(r.mirror.copyPath, "/mirror/me");
  });

  it("redirect and rewrite; request headers set, response headers removed", () => {
    assert.equal(r.redirect.status, 301);
    assert.match(r.redirect.location, /\/new$/);
    assert.equal(r.rewrite.body, "reviews-v2 /modern/items");
    assert.equal(r.rewrite.sawRoute, "legacy");
    assert.equal(r.responseHeaders.internal, null);
    assert.equal(r.responseHeaders.backend, "reviews-v2");
  });

  it("TCP traffic shifting: 80/20 over db v1 and v2 by the service's address", () => {
    const v1 = r.tcp["db-v1"] ?? 0;
    const v2 = r.tcp["db-v2"] ?? 0;
    assert.equal(v1 + v2, 100, JSON.stringify(r.tcp));
    assert.ok(v1 >= 65 && v1 <= 93, `v1 took ${v1} of 100`);
  });

  it("a Sidecar with REGISTRY_ONLY: the egress ServiceEntry works; another namespace and unknown hosts are refused", () => {
    assert.equal(r.egressRestricted.serviceEntry, "httpbin /");
    assert.equal(r.egressRestricted.otherNamespace, 502);
    assert.equal(r.egressRestricted.unknown, 502);
  });

  it("without the Sidecar, the other namespace's service and unknown destinations are reached again", () => {
    assert.deepEqual(r.egressOpen, { otherNamespace: "other", unknown: "outside" });
  });
});
