// Istio's ingress tasks with a real Envoy gateway: a Gateway (selected by the
// gateway's labels) with plain HTTP, HTTPS terminated with a certificate
// from a secret (credentialName, served over SDS to the gateway's namespace
// only, on mTLS to the pilot), mutual TLS asking clients for a certificate
// of a CA from the same secret, TLS passed through by SNI, and plain TCP —
// bound to VirtualServices by `gateways`. Observed on the wire, and in
// Envoy's stats (nothing rejected).
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { after, before, describe, it } from "node:test";
import { type CertFiles, type TestPki, createTestPki } from "@xdskit/ads-server/testing";
import { freePort } from "@xdskit/source-kubernetes/testing";
import { type Envoy, rejections, startEnvoy } from "./harness/envoy.js";
import { type IstioPilot, startIstioPilot } from "./harness/pilot.js";
import { waitFor } from "./harness/wait.js";

const HOST = "bookinfo.example.com";

function request(port: number, host: string, urlPath: string, options: { tls?: tls.ConnectionOptions } = {}) {
  return new Promise<{ status: number; body: string } | { error: string }>((resolve) => {
    const base = { host: "127.0.0.1", port, path: urlPath, headers: { host }, agent: false as const };
    const done = (res: http.IncomingMessage) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const req = options.tls
      ? https.request({ ...base, ...options.tls, servername: host }, done)
      : http.request(base, done);
    req.setTimeout(4000, () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ error: e.message }));
    req.end();
  });
}

function rawTls(port: number, servername: string, ca: string): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: "127.0.0.1", port, servername, ca, checkServerIdentity: () => undefined });
    let out = "";
    s.setTimeout(4000, () => s.destroy());
    s.on("data", (d) => (out += d));
    s.on("close", () => resolve(out || "closed"));
    s.on("error", (e) => resolve(`error ${e.message}`));
  });
}

function tcpRead(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    let out = "";
    s.setTimeout(4000, () => s.destroy());
    s.on("data", (d) => (out += d));
    s.on("close", () => resolve(out || "closed"));
    s.on("error", (e) => resolve(`error ${e.message}`));
  });
}

describe("Istio's ingress tasks with a real Envoy gateway", () => {
  let pki: TestPki;
  let pilot: IstioPilot;
  let envoy: Envoy;
  let secrets: string;
  let ingressCa: CertFiles;
  let clientCert: CertFiles;
  let meshCa: CertFiles;
  let gatewayCert: CertFiles;
  const servers: (http.Server | net.Server)[] = [];
  const ports = { http: 0, https: 0, mtls: 0, passthrough: 0, tcp: 0 };

  before(async () => {
    pki = createTestPki();
    meshCa = pki.ca("mesh-ca");
    const pilotCert = pki.server(meshCa, "pilot");
    gatewayCert = pki.client(meshCa, "gateway", ["spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway"]);
    ingressCa = pki.ca("ingress-ca");
    const serving = pki.server(ingressCa, "bookinfo", [HOST]);
    const clientCa = pki.ca("client-ca");
    clientCert = pki.client(clientCa, "curl", []);
    const dbCert = pki.server(ingressCa, "db", ["db.example.com"]);
    // The gateway's credentials, as Kubernetes secrets would hold them.
    secrets = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-gw-secrets-"));
    const secret = (name: string, files: Record<string, string>) => {
      const dir = path.join(secrets, "istio-system", name);
      fs.mkdirSync(dir, { recursive: true });
      for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
    };
    secret("bookinfo-cert", { "tls.crt": serving.certPem, "tls.key": serving.keyPem });
    secret("bookinfo-mtls", { "tls.crt": serving.certPem, "tls.key": serving.keyPem, "ca.crt": clientCa.certPem });

    const page = http.createServer((req, res) => res.end(`productpage ${req.url}`));
    await new Promise<void>((r) => page.listen(0, "127.0.0.1", () => r()));
    const db = net.createServer((s) => s.end("db-plain"));
    await new Promise<void>((r) => db.listen(0, "127.0.0.1", () => r()));
    // A backend that terminates TLS itself: the gateway passes its connections through untouched.
    const dbTls = tls.createServer({ cert: dbCert.certPem, key: dbCert.keyPem }, (s) => s.end("db-tls"));
    await new Promise<void>((r) => dbTls.listen(0, "127.0.0.1", () => r()));
    servers.push(page, db, dbTls);
    const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();

    const config = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: productpage, namespace: default }
spec:
  hosts: [productpage.default.svc.cluster.local]
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { http: ${portOf(page)} } }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db, namespace: default }
spec:
  hosts: [db.default.svc.cluster.local]
  ports: [{ number: 5432, name: tcp, protocol: TCP }, { number: 5433, name: tls, protocol: TLS }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { tcp: ${portOf(db)}, tls: ${portOf(dbTls)} } }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: bookinfo-gateway, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: ${ports.http}, name: http, protocol: HTTP }
      hosts: ["${HOST}"]
    - port: { number: ${ports.https}, name: https, protocol: HTTPS }
      hosts: ["${HOST}"]
      tls: { mode: SIMPLE, credentialName: bookinfo-cert }
    - port: { number: ${ports.mtls}, name: https-mtls, protocol: HTTPS }
      hosts: ["${HOST}"]
      tls: { mode: MUTUAL, credentialName: bookinfo-mtls }
    - port: { number: ${ports.passthrough}, name: tls, protocol: TLS }
      hosts: [db.example.com]
      tls: { mode: PASSTHROUGH }
    - port: { number: ${ports.tcp}, name: tcp, protocol: TCP }
      hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bookinfo, namespace: default }
spec:
  hosts: ["${HOST}"]
  gateways: [istio-system/bookinfo-gateway]
  http:
    - match: [{ uri: { exact: /productpage } }, { uri: { prefix: /static } }]
      route: [{ destination: { host: productpage, port: { number: 9080 } } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: db, namespace: default }
spec:
  hosts: [db.example.com]
  gateways: [istio-system/bookinfo-gateway]
  tls:
    - match: [{ sniHosts: [db.example.com] }]
      route: [{ destination: { host: db, port: { number: 5433 } } }]
  tcp:
    - match: [{ port: ${ports.tcp} }]
      route: [{ destination: { host: db, port: { number: 5432 } } }]
`;
    pilot = await startIstioPilot({ "bookinfo.yaml": config }, [
      "--tls-cert",
      pilotCert.cert,
      "--tls-key",
      pilotCert.key,
      "--client-ca",
      meshCa.cert,
      "--secrets-dir",
      secrets,
    ]);
    envoy = await startEnvoy({
      nodeId: "router~127.0.0.1~istio-ingressgateway-1.istio-system~istio-system.svc.cluster.local",
      cluster: "istio-ingressgateway",
      xdsPort: pilot.xdsPort,
      metadata: {
        NAMESPACE: "istio-system",
        SERVICE_ACCOUNT: "istio-ingressgateway",
        LABELS: { istio: "ingressgateway" },
      },
      xdsTls: { cert: gatewayCert.cert, key: gatewayCert.key, ca: meshCa.cert },
    });
    await waitFor(
      "the gateway's listeners",
      async () => ((await envoy.stat("listener_manager.total_listeners_active")) === 5 ? true : undefined),
      20_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nenvoy:\n${envoy.log().slice(-3000)}\npilot:\n${pilot.output().slice(-3000)}`);
    });
  });

  after(async () => {
    await envoy?.stop();
    await pilot?.stop();
    for (const s of servers) s.close();
    pki?.remove();
    if (secrets) fs.rmSync(secrets, { recursive: true, force: true });
  });

  it("HTTP: the bound VirtualService routes its host's matches; other paths and hosts get 404", async () => {
    assert.deepEqual(await request(ports.http, HOST, "/productpage"), {
      status: 200,
      body: "productpage /productpage",
    });
    assert.deepEqual(await request(ports.http, HOST, "/static/app.js"), {
      status: 200,
      body: "productpage /static/app.js",
    });
    assert.equal(((await request(ports.http, HOST, "/admin")) as { status: number }).status, 404);
    assert.equal(((await request(ports.http, "other.example.com", "/productpage")) as { status: number }).status, 404);
  });

  it("HTTPS: TLS terminated with the secret's certificate, served over SDS", async () => {
    const answer = await request(ports.https, HOST, "/productpage", { tls: { ca: ingressCa.certPem } });
    assert.deepEqual(answer, { status: 200, body: "productpage /productpage" });
    const stats = await envoy.stats();
    assert.ok((stats.get("sds.istio-system/bookinfo-cert.update_success") ?? 0) >= 1, "the certificate came over SDS");
  });

  it("mutual TLS: no client certificate, no answer; one from the secret's CA is let in", async () => {
    const without = await request(ports.mtls, HOST, "/productpage", { tls: { ca: ingressCa.certPem } });
    assert.ok("error" in without, `answered without a client certificate: ${JSON.stringify(without)}`);
    const withCert = await request(ports.mtls, HOST, "/productpage", {
      tls: { ca: ingressCa.certPem, cert: clientCert.certPem, key: clientCert.keyPem },
    });
    assert.deepEqual(withCert, { status: 200, body: "productpage /productpage" });
  });

  it("TLS passthrough: the connection reaches the backend by SNI, its TLS untouched", async () => {
    assert.equal(await rawTls(ports.passthrough, "db.example.com", ingressCa.certPem), "db-tls");
  });

  it("TCP: connections go to the TCP route's destination", async () => {
    assert.equal(await tcpRead(ports.tcp), "db-plain");
  });

  it("a gateway whose labels the Gateway does not select gets none of it; nothing was rejected", async () => {
    assert.deepEqual(rejections(await envoy.stats()), []);
    const other = await startEnvoy({
      nodeId: "router~127.0.0.2~egress-1.istio-system~istio-system.svc.cluster.local",
      cluster: "istio-egressgateway",
      xdsPort: pilot.xdsPort,
      metadata: {
        NAMESPACE: "istio-system",
        SERVICE_ACCOUNT: "istio-ingressgateway",
        LABELS: { istio: "egressgateway" },
      },
      xdsTls: { cert: gatewayCert.cert, key: gatewayCert.key, ca: meshCa.cert },
    });
    try {
      // Connected and configured (an LDS update arrived), yet with no listener.
      await waitFor(
        "the other gateway's LDS",
        async () => ((await other.stat("listener_manager.lds.update_success")) >= 1 ? true : undefined),
        20_000,
      );
      assert.equal(await other.stat("listener_manager.total_listeners_active"), 0);
      assert.deepEqual(rejections(await other.stats()), []);
    } finally {
      await other.stop();
    }
  });
});
