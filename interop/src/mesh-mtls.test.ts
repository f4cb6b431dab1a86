// Mutual TLS between two real Envoy sidecars with certificates the pilot
// issued over SDS: each sidecar in a network namespace of its own under
// Istio's capture rules, joined by a veth pair. STRICT and PERMISSIVE as
// PeerAuthentications say, AuthorizationPolicies by path and by source
// principal, a caller outside the mesh, a stream claiming an identity it did
// not prove, and certificates rotated under traffic. Needs root, `ip`,
// `iptables` and `setpriv`.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const NS_A = `xmtls-a-${process.pid}`;
const NS_B = `xmtls-b-${process.pid}`;

interface Answer {
  status: number;
  body: string;
}
type Result = Record<string, unknown> & {
  strict: { hello: Answer; outside: Answer; clientHandshakes: number; serverHandshakes: number };
  certs: { client: { serial: string; san: string }[]; server: { serial: string; san: string }[] };
  authz: { admin: Answer; privateFromClient: Answer };
  impostor: string;
  permissive: { outside: Answer; privateFromOutside: Answer; meshStill: Answer };
  rotation: { before: { serial: string }[]; after: { serial: string }[]; calls: number; failures: number };
  pilotCerts: {
    certificates: { spiffeId: string; issued: number }[];
    clients: { nodeId: string; identity: string | null }[];
  };
  rejections: string[];
};

describe("mutual TLS between two real Envoy sidecars, with the pilot as the mesh's CA", () => {
  let r: Result;

  before(() => {
    if (process.getuid?.() !== 0) throw new Error("this test creates network namespaces and needs root");
    for (const c of ["ip", "iptables", "setpriv"])
      if (spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0)
        throw new Error(`this test needs \`${c}\` (Debian: apt-get install -y ${c === "ip" ? "iproute2" : c})`);
    const ip = (...a: string[]) => execFileSync("ip", a);
    ip("netns", "add", NS_A);
    ip("netns", "add", NS_B);
    const va = `vma${process.pid % 100000}`;
    const vb = `vmb${process.pid % 100000}`;
    ip("link", "add", va, "type", "veth", "peer", "name", vb);
    ip("link", "set", va, "netns", NS_A);
    ip("link", "set", vb, "netns", NS_B);
    ip("netns", "exec", NS_A, "ip", "addr", "add", "10.230.0.1/24", "dev", va);
    ip("netns", "exec", NS_B, "ip", "addr", "add", "10.230.0.2/24", "dev", vb);
    ip("netns", "exec", NS_A, "ip", "link", "set", va, "up");
    ip("netns", "exec", NS_B, "ip", "link", "set", vb, "up");
    const run = spawnSync(
      "ip",
      ["netns", "exec", NS_A, process.execPath, "--import", "tsx", "interop/src/mesh-mtls/scenario.ts"],
      { cwd: ROOT, encoding: "utf8", timeout: 180_000, env: { ...process.env, MESH_NS_B: NS_B } },
    );
    if (run.status !== 0) throw new Error(`the scenario failed:\n${run.stderr}`);
    r = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as Result;
    if (r.error)
      throw new Error(
        `the scenario failed: ${r.error}\nclient:\n${r.clientLog}\nserver:\n${r.serverLog}\npilot:\n${r.pilotLog}`,
      );
  });

  after(() => {
    spawnSync("ip", ["netns", "del", NS_A]);
    spawnSync("ip", ["netns", "del", NS_B]);
  });

  it("STRICT: the call goes client → Envoy A → mutual TLS → Envoy B → server; a plaintext caller is refused", () => {
    assert.deepEqual(r.strict.hello, { status: 200, body: "server /hello" });
    assert.ok(r.strict.clientHandshakes >= 1, "Envoy A made TLS handshakes to the server's cluster");
    assert.ok(r.strict.serverHandshakes >= 1, "Envoy B terminated TLS on its inbound listener");
    assert.equal(
      r.strict.outside.status,
      0,
      `plaintext from outside the mesh was answered: ${JSON.stringify(r.strict.outside)}`,
    );
  });

  it("each sidecar holds the certificate of its own identity, issued by the pilot", () => {
    assert.ok(
      r.certs.client.some((c) => c.san === "spiffe://cluster.local/ns/shop/sa/client"),
      JSON.stringify(r.certs.client),
    );
    assert.ok(
      r.certs.server.some((c) => c.san === "spiffe://cluster.local/ns/shop/sa/server"),
      JSON.stringify(r.certs.server),
    );
    const clients = Object.fromEntries(r.pilotCerts.clients.map((c) => [c.nodeId.split("~")[2], c.identity]));
    assert.equal(clients["client-1.shop"], "spiffe://cluster.local/ns/shop/sa/client");
    assert.equal(JSON.stringify(r.pilotCerts).includes("PRIVATE KEY"), false, "no key on the debug page");
  });

  it("AuthorizationPolicy: a DENY by path answers 403; an ALLOW by source principal lets the client in", () => {
    assert.equal(r.authz.admin.status, 403);
    assert.deepEqual(r.authz.privateFromClient, { status: 200, body: "server /private/data" });
  });

  it("a stream that proves one service account and claims another is refused", () => {
    assert.match(r.impostor, /^7 .*claims service account "server" but its certificate is for "client"/);
  });

  it("PERMISSIVE: a caller outside the mesh gets in, in plaintext — but not to what is allowed by principal only", () => {
    assert.deepEqual(r.permissive.outside, { status: 200, body: "server /hello" });
    assert.equal(r.permissive.privateFromOutside.status, 403);
    assert.equal(r.permissive.meshStill.status, 200);
  });

  it("rotation: the server's certificate is replaced under traffic and no call fails", () => {
    const before = new Set(r.rotation.before.map((c) => c.serial));
    assert.ok(
      r.rotation.after.some((c) => !before.has(c.serial)),
      "a new serial after rotation",
    );
    assert.ok(r.rotation.calls >= 50, `${r.rotation.calls} calls`);
    assert.equal(r.rotation.failures, 0);
    assert.ok(
      r.pilotCerts.certificates.some((c) => c.issued >= 2),
      "the pilot issued the identity again",
    );
  });

  it("neither Envoy rejected anything", () => {
    assert.deepEqual(r.rejections, []);
  });
});
