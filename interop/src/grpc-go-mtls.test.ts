// A real grpc-go xDS client talks to minimal-pilot over mTLS (bootstrap
// channel_creds of type "tls" with certificate files) and makes RPCs through
// it; a client with a certificate from another CA gets nothing.
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { type CertFiles, type TestPki, createTestPki } from "@xdskit/ads-server/testing";
import { type Backend, grpcBackend } from "./harness/backends.js";
import { type Driver, grpcGoBinary, startDriver, writeBootstrap } from "./harness/drivers.js";
import { type Pilot, startPilot } from "./harness/pilot.js";
import { waitFor } from "./harness/wait.js";

describe("grpc-go over mTLS through minimal-pilot", () => {
  let pki: TestPki;
  let ca: CertFiles;
  let backend: Backend;
  let pilot: Pilot;
  const drivers: Driver[] = [];
  const bootstraps: string[] = [];

  const client = (caCert: CertFiles, cert: CertFiles, ns = "default") => {
    const bootstrap = writeBootstrap(
      pilot.xdsPort,
      { id: `grpc-go-${ns}-${drivers.length}`, cluster: "interop", metadata: { NAMESPACE: ns } },
      {
        type: "tls",
        config: { ca_certificate_file: caCert.cert, certificate_file: cert.cert, private_key_file: cert.key },
      },
    );
    bootstraps.push(bootstrap);
    const d = startDriver(grpcGoBinary(), [], bootstrap);
    drivers.push(d);
    return d;
  };

  before(async () => {
    pki = createTestPki();
    ca = pki.ca("mesh");
    const server = pki.server(ca, "pilot");
    backend = await grpcBackend("backend-1");
    pilot = await startPilot(
      `services:\n  - { name: echo, protocol: grpc, endpoints: [{ address: 127.0.0.1, port: ${backend.port} }] }\n`,
      ["--tls-cert", server.cert, "--tls-key", server.key, "--client-ca", ca.cert],
    );
  });

  after(async () => {
    for (const d of drivers) await d.stop();
    await pilot?.stop();
    await backend?.stop();
    pki?.remove();
    for (const b of bootstraps) fs.rmSync(b, { force: true });
  });

  it("makes RPCs with a certificate the pilot trusts and whose namespace matches", async () => {
    const d = client(ca, pki.client(ca, "go-app", ["spiffe://cluster.local/ns/default/sa/default"]));
    const a = await waitFor(
      "grpc-go calls to succeed",
      async () => {
        const r = await d.call("xds:///echo", 5);
        return r.answers["backend-1"] === 5 ? r : undefined;
      },
      30_000,
    ).catch((err) => {
      throw new Error(`${err.message}\n${d.log().slice(-3000)}\n${pilot.output().slice(-2000)}`);
    });
    assert.equal(a.errorCount, 0);
    const conns = await pilot.admin<{ connections: { nodeId: string; identity?: { spiffeId?: string } }[] }>(
      "/debug/connections",
    );
    const mine = conns.connections.find((c) => c.nodeId.startsWith("grpc-go-default"));
    assert.equal(mine?.identity?.spiffeId, "spiffe://cluster.local/ns/default/sa/default");
  });

  it("gets no config with a certificate from another CA, or for another namespace", async () => {
    const stranger = pki.ca("stranger");
    const foreign = client(ca, pki.client(stranger, "go-foreign", ["spiffe://cluster.local/ns/default/sa/default"]));
    const liar = client(ca, pki.client(ca, "go-liar", ["spiffe://cluster.local/ns/default/sa/default"]), "payments");
    for (const d of [foreign, liar]) {
      const r = await d.call("xds:///echo", 2, { deadlineMs: 1500, budgetMs: 4000 });
      assert.equal(r.answers["backend-1"] ?? 0, 0, `no call may succeed: ${JSON.stringify(r)}`);
    }
    await waitFor("the refusal in the pilot's log", () =>
      /denied: grpc-go-payments.*claims namespace "payments" but its certificate is for namespace "default"/.test(
        pilot.output(),
      )
        ? true
        : undefined,
    );
  });
});
