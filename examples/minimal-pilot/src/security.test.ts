// minimal-pilot's security contract as a user runs it: `npm start -- --tls-cert …
// --tls-key … --client-ca … --secrets-dir … --admin-token-file …` with real
// certificates and the xdskit adsc client over mTLS.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { createAdsClient } from "@xdskit/adsc";
import { type CertFiles, type TestPki, createTestPki } from "@xdskit/ads-server/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { SecretSchema } from "@xdskit/xds-types/gen/envoy/extensions/transport_sockets/tls/v3/secret_pb";

const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/main.js");
const TOKEN = "a-long-enough-admin-token-0123456789";
const node = (ns: string) => ({ id: `sidecar~10.0.0.7~app-1.${ns}~${ns}.svc.cluster.local`, cluster: ns });

async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("minimal-pilot with mTLS, secrets and an admin token", () => {
  let pki: TestPki;
  let ca: CertFiles;
  let dir: string;
  let pilot: ChildProcess;
  let output = "";
  let xdsPort = 0;
  let adminPort = 0;

  const security = (client: CertFiles) => ({ ca: ca.certPem, cert: client.certPem, key: client.keyPem });

  before(async () => {
    pki = createTestPki();
    ca = pki.ca("mesh");
    const server = pki.server(ca, "pilot");
    dir = pki.dir;
    for (const [ns, name] of [
      ["default", "app-cert"],
      ["payments", "app-cert"],
    ]) {
      const folder = path.join(dir, "secrets", ns as string, name as string);
      fs.mkdirSync(folder, { recursive: true });
      const c = pki.client(ca, `${ns}-workload`, [`spiffe://cluster.local/ns/${ns}/sa/default`]);
      fs.copyFileSync(c.cert, path.join(folder, "tls.crt"));
      fs.copyFileSync(c.key, path.join(folder, "tls.key"));
    }
    fs.writeFileSync(path.join(dir, "token"), `${TOKEN}\n`);
    pilot = spawn(
      process.execPath,
      [
        main,
        "--port",
        "0",
        "--admin-port",
        "0",
        "--tls-cert",
        server.cert,
        "--tls-key",
        server.key,
        "--client-ca",
        ca.cert,
        "--secrets-dir",
        path.join(dir, "secrets"),
        "--admin-token-file",
        path.join(dir, "token"),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    pilot.stdout?.on("data", (d) => (output += d));
    pilot.stderr?.on("data", (d) => (output += d));
    xdsPort = Number(await waitFor("the xds port", () => output.match(/xds listening on 127\.0\.0\.1:(\d+)/)?.[1]));
    adminPort = Number(
      await waitFor("the admin port", () => output.match(/admin listening on 127\.0\.0\.1:(\d+)/)?.[1]),
    );
  });

  after(async () => {
    pilot?.kill("SIGTERM");
    await new Promise((r) => (pilot.exitCode !== null ? r(undefined) : pilot.once("exit", r)));
    pki.remove();
  });

  it("says what it secures in one line at start", () => {
    assert.match(
      output,
      /security: mTLS on 127\.0\.0\.1:\d+; a client's SPIFFE ID \(trust domain cluster\.local\) must match/,
    );
  });

  it("serves an mTLS client whose certificate matches its node, and only its own namespace's secrets", async () => {
    const c = createAdsClient({
      target: `127.0.0.1:${xdsPort}`,
      node: node("default"),
      security: security(pki.client(ca, "app", ["spiffe://cluster.local/ns/default/sa/default"])),
      reconnect: false,
    });
    try {
      c.subscribe(TypeUrl.Cluster);
      c.subscribe(TypeUrl.Secret, ["default/app-cert", "payments/app-cert"]);
      await c.synced(10_000);
      assert.ok(c.store.clusters().size > 0);
      const secrets = [...c.store.all(TypeUrl.Secret).values()].map((r) => fromBinary(SecretSchema, r.bytes).name);
      assert.deepEqual(secrets, ["default/app-cert"], "never another namespace's secret");
    } finally {
      c.close();
    }
  });

  it("refuses a client whose certificate is for another namespace, naming both", async () => {
    const c = createAdsClient({
      target: `127.0.0.1:${xdsPort}`,
      node: node("payments"),
      security: security(pki.client(ca, "liar", ["spiffe://cluster.local/ns/default/sa/default"])),
      reconnect: false,
    });
    try {
      const gone = new Promise<{ code: number; details: string }>((r) => c.once("disconnected", r));
      c.subscribe(TypeUrl.Cluster);
      const e = await gone;
      assert.equal(e.code, grpc.status.PERMISSION_DENIED);
      assert.match(e.details, /claims namespace "payments" but its certificate is for namespace "default"/);
    } finally {
      c.close();
    }
  });

  it("admin pages need the token, but /healthz", async () => {
    const get = (p: string, token?: string) =>
      fetch(`http://127.0.0.1:${adminPort}${p}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    assert.equal((await get("/healthz")).status, 200);
    const refused = await get("/debug/connections");
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get("www-authenticate"), 'Bearer realm="xdskit-admin"');
    assert.equal((await get("/debug/connections", "wrong-token-of-any-length")).status, 401);
    assert.equal((await get("/debug/connections", TOKEN)).status, 200);
    assert.equal((await get("/metrics", TOKEN)).status, 200);
  });

  it("refuses to bind the admin port beyond the loopback without a token", () => {
    const r = spawnSync(process.execPath, [main, "--port", "0", "--admin-port", "0", "--admin-host", "0.0.0.0"], {
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /refusing to serve the admin pages on 0\.0\.0\.0 without a token/);
  });

  it("refuses mistakes in the security flags with what to fix", () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [main, ...args], { encoding: "utf8", timeout: 20_000 });
    const onlyCert = run("--tls-cert", ca.cert);
    assert.equal(onlyCert.status, 2);
    assert.match(onlyCert.stderr, /--tls-cert and --tls-key go together/);
    const caAlone = run("--client-ca", ca.cert);
    assert.match(caAlone.stderr, /--client-ca needs --tls-cert and --tls-key/);
    const missing = run("--tls-cert", "/nonexistent.crt", "--tls-key", "/nonexistent.key");
    assert.match(missing.stderr, /--tls-cert \/nonexistent\.crt: no such readable file/);
  });
});
