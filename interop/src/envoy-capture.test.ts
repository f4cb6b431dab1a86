// Outbound capture for real: in a network namespace of its own, iptables
// sends an application's connections to Envoy's 15001, and Envoy — configured
// by the pilot — hands each to the right service by original destination and
// Host, a TCP service by destination IP, and an unknown destination through
// PassthroughCluster. Needs root, `ip` and `iptables` (CI installs iptables).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const NS = `xdskit-capture-${process.pid}`;

function need(cmd: string): void {
  if (spawnSync("sh", ["-c", `command -v ${cmd}`]).status !== 0) {
    throw new Error(
      `the capture test needs \`${cmd}\` (Debian: apt-get install -y ${cmd === "ip" ? "iproute2" : cmd})`,
    );
  }
}

describe("Envoy sidecar with real outbound capture (network namespace + iptables)", () => {
  before(() => {
    if (process.getuid?.() !== 0) throw new Error("the capture test creates a network namespace and needs root");
    for (const c of ["ip", "iptables", "setpriv"]) need(c);
    execFileSync("ip", ["netns", "add", NS]);
    const inNs = (...args: string[]) => execFileSync("ip", ["netns", "exec", NS, ...args]);
    // Everything stays on the namespace's own loopback: the "service IPs" are
    // loopback addresses too.
    inNs("ip", "link", "set", "lo", "up");
    inNs("ip", "addr", "add", "10.200.0.2/24", "dev", "lo");
    inNs("ip", "addr", "add", "10.200.0.7/32", "dev", "lo");
  });

  after(() => {
    spawnSync("ip", ["netns", "del", NS]);
  });

  it("captured connections reach the right backend", () => {
    const run = spawnSync(
      "ip",
      ["netns", "exec", NS, process.execPath, "--import", "tsx", "interop/src/capture/scenario.ts"],
      { cwd: ROOT, encoding: "utf8", timeout: 90_000 },
    );
    assert.equal(run.status, 0, `the scenario failed:\n${run.stderr}`);
    const result = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}");
    assert.equal(result.web, "200 web-a", "HTTP to the service port, routed by Host");
    assert.equal(result.other, "200 other-b", "another service on its own port");
    assert.equal(result.db, "200 db-a", "a TCP service, matched by destination IP");
    assert.equal(result.outside, "200 outside", "an unknown destination through PassthroughCluster");
    // The per-port listeners bind nothing: a connection reaches them only when
    // 15001 hands it over by original destination. Only the unknown
    // destination stays on virtualOutbound's own chain.
    assert.equal(result.virtualOutbound, 1);
    assert.ok(result.passthrough >= 1);
    for (const port of [result.ports.web, result.ports.other, result.ports.db]) {
      assert.ok(
        result.listenerConnections[`listener.0.0.0.0_${port}.downstream_cx_total`] >= 1,
        `0.0.0.0_${port} took its connection`,
      );
    }
  });
});
