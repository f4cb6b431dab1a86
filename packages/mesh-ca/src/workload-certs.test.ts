// Workload certificates as SDS serves them: `default` and `ROOTCA` for the
// identity a sidecar claims, the same certificate for every workload of an
// identity until half its life has passed, then a new one announced as a
// change; nothing for proxyless clients; `default` only to a stream that
// proved the identity.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import type { Proxy as XdsProxy } from "@xdskit/config-generator";
import { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import type { Secret } from "@xdskit/xds-types/gen/envoy/extensions/transport_sockets/tls/v3/secret_pb";
import { MeshCa } from "./ca.js";
import { workloadSecretsPolicy } from "./policy.js";
import { WorkloadCertificates } from "./workload-certs.js";

const proxy = (kind: XdsProxy["kind"], namespace?: string, serviceAccount?: string): XdsProxy => ({
  id: "n",
  cluster: "c",
  kind,
  locality: {},
  ip: "10.0.0.1",
  metadata: {},
  userAgent: "",
  labels: {},
  ...(namespace ? { namespace } : {}),
  ...(serviceAccount ? { serviceAccount } : {}),
});

const certOf = (s: Secret) =>
  new X509Certificate(
    Buffer.from(
      s.type.case === "tlsCertificate" && s.type.value.certificateChain?.specifier.case === "inlineBytes"
        ? s.type.value.certificateChain.specifier.value
        : new Uint8Array(),
    ),
  );

describe("workload certificates", () => {
  // The rotation timer does not hold the process open; the tests do while they wait.
  let alive: NodeJS.Timeout;
  before(() => {
    alive = setInterval(() => undefined, 1000);
  });
  after(() => clearInterval(alive));

  it("serves default and ROOTCA for the claimed identity, one certificate per identity, none to proxyless clients", () => {
    const ca = MeshCa.create({ trustDomain: "cluster.local" });
    const certs = new WorkloadCertificates({ ca, ttlMs: 3_600_000 });
    try {
      const push = {} as never;
      const [own, root] = certs.builder({ proxy: proxy("sidecar", "shop", "web"), push }) as Secret[];
      assert.equal(own?.name, "default");
      assert.equal(root?.name, "ROOTCA");
      assert.equal(certOf(own as Secret).subjectAltName, "URI:spiffe://cluster.local/ns/shop/sa/web");
      const again = certs.builder({ proxy: proxy("sidecar", "shop", "web"), push }) as Secret[];
      assert.equal(again[0], own, "the same secret object for the same identity");
      assert.deepEqual(certs.builder({ proxy: proxy("proxyless", "shop", "web"), push }), []);
      assert.deepEqual(
        certs.builder({ proxy: proxy("sidecar", "shop"), push }),
        [],
        "no service account claimed: nothing",
      );
      assert.equal(certs.keyOf(proxy("sidecar", "shop", "web")), "spiffe://cluster.local/ns/shop/sa/web");
      const info = certs.certificates();
      assert.equal(info.length, 1);
      assert.equal(JSON.stringify(info).includes("PRIVATE KEY"), false, "the debug view never has a key");
    } finally {
      certs.close();
    }
  });

  it("rotates at half the lifetime: a change is announced and the next build gets a new certificate", async () => {
    const ca = MeshCa.create({ trustDomain: "cluster.local" });
    const certs = new WorkloadCertificates({ ca, ttlMs: 10_000, rotateAfter: 0.1, checkEveryMs: 100 });
    try {
      const push = {} as never;
      const first = (certs.builder({ proxy: proxy("sidecar", "shop", "web"), push }) as Secret[])[0] as Secret;
      const change = await new Promise<{ kinds: readonly string[] }>((r) => certs.once("change", r));
      assert.deepEqual(change.kinds, ["secrets"]);
      const second = (certs.builder({ proxy: proxy("sidecar", "shop", "web"), push }) as Secret[])[0] as Secret;
      assert.notEqual(certOf(second).serialNumber, certOf(first).serialNumber);
      assert.equal(certs.certificates()[0]?.issued, 2);
    } finally {
      certs.close();
    }
  });

  it("forgets an identity nobody asked for since its rotation was announced", async () => {
    const ca = MeshCa.create({ trustDomain: "cluster.local" });
    const certs = new WorkloadCertificates({ ca, ttlMs: 10_000, rotateAfter: 0.05, checkEveryMs: 50 });
    try {
      certs.builder({ proxy: proxy("sidecar", "shop", "gone"), push: {} as never });
      await new Promise((r) => certs.once("change", r));
      for (let i = 0; i < 40 && certs.certificates().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(certs.certificates(), []);
    } finally {
      certs.close();
    }
  });

  it("sends default only on a stream that proved the identity; ROOTCA to any; other names to the next policy", () => {
    const ca = MeshCa.create({ trustDomain: "cluster.local" });
    const policy = workloadSecretsPolicy(ca, ({ name }) => name === "shop/gateway-cert");
    const node = create(NodeSchema, {
      id: "sidecar~10.0.0.1~web-1.shop~shop.svc.cluster.local",
      metadata: { SERVICE_ACCOUNT: "web" },
    });
    const id = (spiffeId: string | undefined) =>
      spiffeId ? { spiffeId, uriSans: [spiffeId], dnsSans: [], subject: "", fingerprint: "" } : undefined;
    const ask = (name: string, spiffeId?: string) => policy({ node, identity: id(spiffeId), typeUrl: "t", name });
    assert.equal(ask("default", "spiffe://cluster.local/ns/shop/sa/web"), true);
    assert.equal(ask("default", "spiffe://cluster.local/ns/shop/sa/admin"), false, "another account's proof");
    assert.equal(ask("default"), false, "no proof at all");
    assert.equal(ask("ROOTCA"), true);
    assert.equal(ask("shop/gateway-cert"), true);
    assert.equal(ask("shop/other"), false);
  });
});
