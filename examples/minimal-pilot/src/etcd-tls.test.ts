// etcd over TLS with client certificates (etcd's --client-cert-auth), as a
// production etcd runs: xdskit-mesh and minimal-pilot connect with the CA and
// a client certificate; the wrong CA or no client certificate is refused with
// the source's error on /readyz, and flag mistakes are usage errors.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createTestPki, type CertFiles, type TestPki } from "@xdskit/ads-server/testing";
import { createAdsClient } from "@xdskit/adsc";
import { etcdMissing, startTestEtcd, type TestEtcd } from "@xdskit/source-etcd/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { type PilotProcess, startPilot, until } from "./pilot-process.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const MESH_BIN = path.resolve(here, "../../../packages/source-etcd/bin/xdskit-mesh.js");
const MAIN = path.resolve(here, "../dist/main.js");

const mesh = (...args: string[]) => {
  const r = spawnSync(process.execPath, [MESH_BIN, ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe("etcd over TLS with client certificates", () => {
  let pki: TestPki;
  let ca: CertFiles;
  let client: CertFiles;
  let foreign: CertFiles;
  let etcd: TestEtcd;
  const pilots: PilotProcess[] = [];
  let meshFile: string;

  before(async () => {
    const missing = etcdMissing();
    if (missing) throw new Error(missing);
    pki = createTestPki();
    ca = pki.ca("etcd-ca");
    const server = pki.server(ca, "etcd");
    client = pki.client(ca, "pilot", []);
    foreign = pki.ca("someone-else");
    etcd = await startTestEtcd({
      tls: { cert: server.cert, key: server.key, ca: ca.cert, clientCert: client.cert, clientKey: client.key },
    });
    meshFile = path.join(pki.dir, "mesh.yaml");
    fs.writeFileSync(meshFile, "services:\n  - name: echo\n    endpoints: [{ address: 10.0.0.1, port: 8080 }]\n");
  });

  after(async () => {
    for (const p of pilots) await p.kill();
    await etcd?.remove();
    pki?.remove();
  });

  it("xdskit-mesh puts and gets with the CA and a client certificate, and is refused without one", () => {
    assert.match(etcd.url, /^https:/);
    const tls = ["--etcd-ca", ca.cert, "--etcd-cert", client.cert, "--etcd-key", client.key];
    const put = mesh("put", "--etcd", etcd.url, ...tls, meshFile);
    assert.equal(put.code, 0, put.err);
    assert.match(put.out, /1 key\(s\) written/);
    const got = mesh("get", "--etcd", etcd.url, ...tls);
    assert.equal(got.code, 0, got.err);
    assert.match(got.out, /name: echo/);
    const noCert = mesh("get", "--etcd", etcd.url, "--etcd-ca", ca.cert);
    assert.equal(noCert.code, 1, "etcd wants a client certificate");
    // TLS 1.2 says "bad certificate", 1.3 "certificate required".
    assert.match(noCert.err, /did not answer: .*(bad certificate|certificate required)/);
    const plain = mesh("get", "--etcd", etcd.url.replace("https:", "http:"), ...tls);
    assert.equal(plain.code, 2);
    assert.match(plain.err, /the URLs are http:\/\/ .*use https:\/\//);
    const halfPair = mesh("get", "--etcd", etcd.url, "--etcd-cert", client.cert);
    assert.equal(halfPair.code, 2);
    assert.match(halfPair.err, /needs its key/);
    const unreadable = mesh("get", "--etcd", etcd.url, "--etcd-ca", path.join(pki.dir, "nope.crt"));
    assert.equal(unreadable.code, 1);
    assert.match(unreadable.err, /cannot read the etcd CA file .*nope\.crt/);
  });

  it("minimal-pilot reads the mesh over TLS with a client certificate", async () => {
    const pilot = await startPilot([
      "--etcd",
      etcd.url,
      "--etcd-ca",
      ca.cert,
      "--etcd-cert",
      client.cert,
      "--etcd-key",
      client.key,
    ]);
    pilots.push(pilot);
    const c = createAdsClient({ target: `127.0.0.1:${pilot.xdsPort}`, node: { id: "tls-reader", cluster: "t" } });
    try {
      c.subscribe(TypeUrl.Cluster);
      await c.synced(10_000);
      assert.ok([...c.store.clusters().keys()].some((n) => n.includes("echo")));
    } finally {
      c.close();
    }
  });

  it("minimal-pilot with the wrong CA stays up, not ready, saying why", async () => {
    const pilot = await startPilot(
      ["--etcd", etcd.url, "--etcd-ca", foreign.cert, "--etcd-cert", client.cert, "--etcd-key", client.key],
      { ready: false },
    );
    pilots.push(pilot);
    const body = await until("a 503 naming the source's error", async () => {
      const res = await pilot.admin("/readyz");
      const text = await res.text();
      return res.status === 503 && text.includes("source:") ? text : undefined;
    });
    assert.match(body, /no config read yet.*\(source: .*certificate/);
  });

  it("minimal-pilot refuses TLS flags it cannot use, as usage errors", () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", timeout: 20_000 });
    const cases: [string[], RegExp][] = [
      [["--etcd", etcd.url, "--etcd-cert", client.cert], /--etcd-cert and --etcd-key go together/],
      [["--etcd", etcd.url.replace("https:", "http:"), "--etcd-ca", ca.cert], /TLS to etcd needs https:\/\/ URLs/],
      [["--etcd-ca", ca.cert], /need --etcd/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});
