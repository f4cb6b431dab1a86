// ADS over real TLS and mTLS (certificates made by openssl for the test):
// identities on connections, Istio's SPIFFE policy, node pinning, secrets per
// namespace, and certificate rotation without restart.
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { create, fromBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { createSnapshotRegistry } from "@xdskit/snapshot";
import { edsCluster } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { type Secret, SecretSchema } from "@xdskit/xds-types/gen/envoy/extensions/transport_sockets/tls/v3/secret_pb";
import { secretsByNamespace, spiffeNodePolicy } from "./authorization.js";
import type { AdsServerEvents } from "./events.js";
import { type AdsServer, createAdsServer } from "./server.js";
import { type CertFiles, type TestPki, createTestPki } from "./testing/certs.js";
import { fetchClientStatus } from "./testing/csds-client.js";
import { RawDeltaStream, RawStream } from "./testing/raw-client.js";
import { tlsServerCredentials } from "./tls.js";

const CDS = TypeUrl.Cluster;
const SDS = TypeUrl.Secret;
const sidecar = (ns: string, pod = "pod") => ({
  id: `sidecar~10.0.0.1~${pod}.${ns}~${ns}.svc.cluster.local`,
  cluster: ns,
});
const spiffe = (ns: string, sa = "default") => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

function secret(name: string): Secret {
  return create(SecretSchema, {
    name,
    type: {
      case: "tlsCertificate",
      value: {
        certificateChain: { specifier: { case: "inlineString", value: `chain of ${name}` } },
        privateKey: { specifier: { case: "inlineString", value: `KEY OF ${name}` } },
      },
    },
  });
}

function mtlsClient(port: number, ca: CertFiles, client?: CertFiles): grpc.Client {
  return new grpc.Client(
    `127.0.0.1:${port}`,
    grpc.credentials.createSsl(
      Buffer.from(ca.certPem),
      client ? Buffer.from(client.keyPem) : null,
      client ? Buffer.from(client.certPem) : null,
    ),
    { "grpc.use_local_subchannel_pool": 1 },
  );
}

describe("ADS over mTLS with Istio's policy", () => {
  let pki: TestPki;
  let ca: CertFiles;
  let server: AdsServer;
  let port: number;
  const denied: Parameters<AdsServerEvents["denied"]>[0][] = [];
  const withheld: string[] = [];
  const registry = createSnapshotRegistry({ nodeGroup: () => "mesh" });

  before(async () => {
    pki = createTestPki();
    ca = pki.ca("mesh-ca");
    const cert = pki.server(ca, "xds");
    registry.setSnapshot("mesh", {
      [CDS]: [edsCluster("c1")],
      [SDS]: [secret("default/cert"), secret("other/cert")],
    });
    server = createAdsServer({
      registry,
      authorize: spiffeNodePolicy({ trustDomain: "cluster.local" }),
      authorizeResource: secretsByNamespace,
    });
    server.on("denied", (e) => denied.push(e));
    server.on("resourceDenied", (e) => withheld.push(e.name));
    port = await server.listen(
      "127.0.0.1:0",
      tlsServerCredentials({ certFile: cert.cert, keyFile: cert.key, clientCaFile: ca.cert }),
    );
  });

  after(async () => {
    await server.shutdown(500);
    pki.remove();
  });

  it("serves a client whose certificate matches its node, and shows who it is", async () => {
    const client = mtlsClient(port, ca, pki.client(ca, "reviews", [spiffe("default", "reviews")]));
    try {
      const s = new RawStream(client);
      s.send({ node: { ...sidecar("default"), metadata: { SERVICE_ACCOUNT: "reviews" } }, typeUrl: CDS });
      assert.deepEqual((await s.next()).resources.length, 1);
      const info = server.connections.byNodeId(sidecar("default").id)[0];
      assert.equal(info?.identity?.spiffeId, spiffe("default", "reviews"));
      assert.match(info?.identity?.fingerprint ?? "", /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      assert.equal(info?.identity?.subject, "CN=reviews");
      const csds = await fetchClientStatus(client, sidecar("default").id);
      const shown = csds.config[0]?.node?.metadata?.["xdskit.identity"] as { spiffeId: string } | undefined;
      assert.equal(shown?.spiffeId, spiffe("default", "reviews"), "CSDS carries the identity");
      s.close();
    } finally {
      client.close();
    }
  });

  it("refuses a node whose namespace differs from its certificate's, before sending anything", async () => {
    const client = mtlsClient(port, ca, pki.client(ca, "intruder", [spiffe("default")]));
    try {
      const s = new RawStream(client);
      s.send({ node: sidecar("payments"), typeUrl: CDS });
      const st = await s.ended();
      assert.equal(st.code, grpc.status.PERMISSION_DENIED);
      assert.match(st.details, /claims namespace "payments" but its certificate is for namespace "default"/);
      assert.equal(s.responses.length, 0, "no config before the refusal");
      assert.equal(denied.at(-1)?.identity?.spiffeId, spiffe("default"));
      const wrongSa = new RawStream(client);
      wrongSa.send({ node: { ...sidecar("default"), metadata: { SERVICE_ACCOUNT: "ratings" } }, typeUrl: CDS });
      assert.match(
        (await wrongSa.ended()).details,
        /claims service account "ratings" but its certificate is for "default"/,
      );
      const noNs = new RawStream(client);
      noNs.send({ node: { id: "just-a-name" }, typeUrl: CDS });
      assert.match((await noNs.ended()).details, /claims no namespace/);
    } finally {
      client.close();
    }
  });

  it("fails the handshake without a client certificate, or with one from another CA", async () => {
    for (const client of [
      mtlsClient(port, ca),
      mtlsClient(port, ca, pki.client(pki.ca("stranger-ca"), "x", [spiffe("default")])),
    ]) {
      try {
        const s = new RawStream(client);
        s.send({ node: sidecar("default"), typeUrl: CDS });
        const st = await s.ended(10_000);
        assert.equal(st.code, grpc.status.UNAVAILABLE, st.details);
        assert.equal(s.responses.length, 0);
      } finally {
        client.close();
      }
    }
  });

  it("refuses a node id change mid-stream", async () => {
    const client = mtlsClient(port, ca, pki.client(ca, "pinned", [spiffe("default")]));
    try {
      const s = new RawStream(client);
      s.send({ node: sidecar("default", "a"), typeUrl: CDS });
      const r = await s.next();
      s.send({ node: sidecar("default", "b"), typeUrl: CDS, versionInfo: r.versionInfo, responseNonce: r.nonce });
      const st = await s.ended();
      assert.equal(st.code, grpc.status.INVALID_ARGUMENT);
      assert.match(
        st.details,
        /node id changed from "sidecar~10\.0\.0\.1~a\.default.*" to "sidecar~10\.0\.0\.1~b\.default/,
      );
    } finally {
      client.close();
    }
  });

  it("sends a client only the secrets of its own namespace: SotW leaves the others out, Delta says not found", async () => {
    const client = mtlsClient(port, ca, pki.client(ca, "secrets", [spiffe("default")]));
    try {
      const sotw = new RawStream(client);
      sotw.send({ node: sidecar("default"), typeUrl: SDS, resourceNames: ["default/cert", "other/cert"] });
      const r = await sotw.next();
      assert.deepEqual(
        r.resources.map((x) => fromBinary(SecretSchema, x.value).name),
        ["default/cert"],
      );
      assert.ok(!Buffer.from(r.resources[0]?.value ?? []).includes("KEY OF other"));
      const delta = new RawDeltaStream(client);
      delta.send({ node: sidecar("default"), typeUrl: SDS, resourceNamesSubscribe: ["other/cert", "default/cert"] });
      const d = await delta.next();
      assert.deepEqual(
        d.resources.map((x) => x.name),
        ["default/cert"],
      );
      assert.deepEqual(d.removedResources, ["other/cert"]);
      assert.ok(withheld.filter((n) => n === "other/cert").length >= 2, "each withholding is reported");
      sotw.close();
      delta.close();
    } finally {
      client.close();
    }
  });
});

describe("TLS files are re-read: rotation without restart", () => {
  it("a new CA and server certificate take effect for new connections while live streams keep working", async () => {
    const pki = createTestPki();
    const ca1 = pki.ca("ca-1");
    const live = {
      cert: `${pki.dir}/live-server.crt`,
      key: `${pki.dir}/live-server.key`,
      ca: `${pki.dir}/live-ca.crt`,
    };
    const install = (server: CertFiles, ca: CertFiles) => {
      // Written beside and renamed into place, as a cert manager does.
      for (const [from, to] of [
        [server.cert, live.cert],
        [server.key, live.key],
        [ca.cert, live.ca],
      ] as const) {
        fs.copyFileSync(from, `${to}.tmp`);
        fs.renameSync(`${to}.tmp`, to);
      }
    };
    install(pki.server(ca1, "server-1"), ca1);
    const registry = createSnapshotRegistry({ nodeGroup: () => "g" });
    registry.setSnapshot("g", { [CDS]: [edsCluster("c1")] });
    const server = createAdsServer({ registry });
    const port = await server.listen(
      "127.0.0.1:0",
      tlsServerCredentials({ certFile: live.cert, keyFile: live.key, clientCaFile: live.ca, refreshMs: 200 }),
    );
    const old = mtlsClient(port, ca1, pki.client(ca1, "old", [spiffe("default")]));
    try {
      const oldStream = new RawStream(old);
      oldStream.send({ node: sidecar("default"), typeUrl: CDS });
      oldStream.ack(await oldStream.next());
      const ca2 = pki.ca("ca-2");
      install(pki.server(ca2, "server-2"), ca2);
      const started = Date.now();
      let joined = false;
      while (!joined && Date.now() - started < 10_000) {
        const fresh = mtlsClient(port, ca2, pki.client(ca2, `new-${Date.now()}`, [spiffe("default")]));
        const s = new RawStream(fresh);
        s.send({ node: sidecar("default", "new"), typeUrl: CDS });
        joined = await s.next(1000).then(
          () => true,
          () => false,
        );
        s.close();
        fresh.close();
        if (!joined) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(joined, "a client trusting only the new CA connected within 10 s");
      registry.updateResources("g", CDS, { upsert: [edsCluster("c2")] });
      assert.equal(
        (await oldStream.next()).resources.length,
        2,
        "the stream opened before the rotation still gets updates",
      );
      oldStream.close();
    } finally {
      old.close();
      await server.shutdown(500);
      pki.remove();
    }
  });
});
