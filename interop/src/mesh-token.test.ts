// A sidecar proves its identity with a Kubernetes service-account token
// instead of a client certificate: the token travels on the ADS stream
// (`authorization: Bearer …`), the pilot asks a real API server whose it is
// (TokenReview), and only then serves that identity's workload certificate.
// A token for one account and a claim of another is refused; no token, no
// certificate (the trust bundle still comes).
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { type AdsClient, createAdsClient } from "@xdskit/adsc";
import { TypeUrl } from "@xdskit/xds-types";
import type { Secret } from "@xdskit/xds-types/gen/envoy/extensions/transport_sockets/tls/v3/secret_pb";
import { type KubeWorld, startKubeWorld } from "./harness/kube.js";
import { type KubePilot, startKubePilot } from "./harness/pilot.js";

describe("workload certificates for a service-account token (TokenReview on a real API server)", () => {
  let world: KubeWorld;
  let pilot: KubePilot;
  let token: string;
  let caDir: string;
  const clients: AdsClient[] = [];

  before(async () => {
    world = await startKubeWorld(5);
    await world.cluster.namespace("shop");
    await world.cluster.serviceAccount("shop", "web");
    const core = world.kube.config.makeApiClient(CoreV1Api);
    const res = await core.createNamespacedServiceAccountToken({
      name: "web",
      namespace: "shop",
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    token = res.status?.token ?? "";
    caDir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-token-ca-"));
    pilot = await startKubePilot(world.kube.kubeconfig, ["--mesh-ca", caDir]);
  });

  after(async () => {
    for (const c of clients) c.close();
    await pilot?.stop();
    await world?.stop();
    if (caDir) fs.rmSync(caDir, { recursive: true, force: true });
  });

  const connect = (sa: string, auth?: string) => {
    const c = createAdsClient({
      target: `127.0.0.1:${pilot.xdsPort}`,
      node: {
        id: `sidecar~10.99.0.1~${sa}-1.shop~shop.svc.cluster.local`,
        cluster: "mesh",
        metadata: { NAMESPACE: "shop", SERVICE_ACCOUNT: sa } as never,
      },
      reconnect: false,
      ...(auth ? { callMetadata: { authorization: auth } } : {}),
    });
    clients.push(c);
    return c;
  };

  it("a valid token for the claimed account gets that account's certificate", async () => {
    const c = connect("web", `Bearer ${token}`);
    c.subscribe(TypeUrl.Secret, ["default", "ROOTCA"]);
    await c.synced(15_000);
    const secret = c.store.get(TypeUrl.Secret, "default")?.message as Secret | undefined;
    assert.ok(secret, "default was sent");
    const chain = secret.type.case === "tlsCertificate" ? secret.type.value.certificateChain?.specifier : undefined;
    assert.equal(chain?.case, "inlineBytes");
    const cert = new X509Certificate(Buffer.from(chain?.value as Uint8Array));
    assert.equal(cert.subjectAltName, "URI:spiffe://cluster.local/ns/shop/sa/web");
    assert.ok(c.store.get(TypeUrl.Secret, "ROOTCA"));
  });

  it("a token for one account and a claim of another is refused", async () => {
    const c = connect("admin", `Bearer ${token}`);
    const ended = new Promise<string>((r) => c.on("disconnected", (e) => r(`${e.code} ${e.details}`)));
    c.subscribe(TypeUrl.Secret, ["default"]);
    assert.match(await ended, /^7 .*claims service account "admin" but its token is for "web"/);
  });

  it("a token the API server does not know is refused", async () => {
    const c = connect("web", "Bearer not-a-token");
    const ended = new Promise<string>((r) => c.on("disconnected", (e) => r(`${e.code} ${e.details}`)));
    c.subscribe(TypeUrl.Secret, ["default"]);
    assert.match(await ended, /^7 .*token was not accepted/);
  });

  it("no token and no certificate: the trust bundle, but no certificate", async () => {
    const c = connect("web");
    c.subscribe(TypeUrl.Secret, ["ROOTCA", "default"]);
    await c.synced(15_000);
    assert.ok(c.store.get(TypeUrl.Secret, "ROOTCA"));
    assert.equal(c.store.get(TypeUrl.Secret, "default"), undefined);
  });
});
