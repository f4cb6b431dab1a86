// The mesh CA's certificates are real: OpenSSL (through Node) verifies them
// against the root, two workloads complete a mutual TLS handshake with them
// and see each other's SPIFFE ID, and a CA written to a folder reads back.
import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { after, describe, it } from "node:test";
import { MeshCa } from "./ca.js";

describe("the mesh CA", () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it("issues a certificate whose only name is the SPIFFE ID, verified by the root, valid for its TTL", () => {
    const ca = MeshCa.create({ trustDomain: "cluster.local" });
    const issued = ca.issue(ca.spiffeId("shop", "web"), { ttlMs: 3_600_000 });
    const cert = new X509Certificate(issued.certificateChainPem);
    assert.equal(cert.subjectAltName, "URI:spiffe://cluster.local/ns/shop/sa/web");
    assert.ok(!cert.subject, "an empty subject");
    assert.ok(cert.verify(new X509Certificate(ca.rootPem).publicKey));
    assert.equal(cert.serialNumber.toLowerCase(), issued.serial);
    const life = new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime();
    assert.ok(Math.abs(life - 3_660_000) < 2000, `valid ${life} ms: the TTL plus a minute back-dated`);
    assert.ok(cert.checkPrivateKey(createPrivateKey(issued.privateKeyPem)));
    assert.throws(
      () => ca.issue("spiffe://other.domain/ns/a/sa/b", { ttlMs: 60_000 }),
      /not in the trust domain cluster\.local/,
    );
  });

  it("two workloads speak mutual TLS with their certificates and see each other's SPIFFE ID", async () => {
    const ca = MeshCa.create({ trustDomain: "cluster.local" });
    const server = ca.issue(ca.spiffeId("shop", "db"), { ttlMs: 600_000 });
    const client = ca.issue(ca.spiffeId("shop", "web"), { ttlMs: 600_000 });
    const seen: string[] = [];
    const srv = tls.createServer(
      {
        cert: server.certificateChainPem,
        key: server.privateKeyPem,
        ca: ca.rootPem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (s) => {
        seen.push(s.getPeerCertificate().subjectaltname ?? "");
        s.end("ok");
      },
    );
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as { port: number }).port;
    const answer = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({
        host: "127.0.0.1",
        port,
        cert: client.certificateChainPem,
        key: client.privateKeyPem,
        ca: ca.rootPem,
        // SPIFFE names servers by URI SAN, not host name.
        checkServerIdentity: (_h, cert) =>
          cert.subjectaltname === "URI:spiffe://cluster.local/ns/shop/sa/db"
            ? undefined
            : new Error(cert.subjectaltname),
      });
      let out = "";
      s.on("data", (d) => (out += d));
      s.on("end", () => resolve(out));
      s.on("error", reject);
    });
    srv.close();
    assert.equal(answer, "ok");
    assert.deepEqual(seen, ["URI:spiffe://cluster.local/ns/shop/sa/web"]);
  });

  it("a CA written to a folder is read back from its files, and its leaves chain to it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-ca-"));
    dirs.push(dir);
    const root = MeshCa.create({ trustDomain: "cluster.local", dir });
    assert.ok(fs.existsSync(path.join(dir, "root-cert.pem")));
    assert.equal(fs.statSync(path.join(dir, "root-key.pem")).mode & 0o777, 0o600);
    const again = MeshCa.fromFiles({
      certFile: path.join(dir, "root-cert.pem"),
      keyFile: path.join(dir, "root-key.pem"),
      trustDomain: "cluster.local",
    });
    assert.equal(again.rootPem, root.rootPem, "the same root read back");
    const leaf = again.issue(again.spiffeId("a", "b"), { ttlMs: 60_000 });
    assert.ok(new X509Certificate(leaf.certificateChainPem).verify(new X509Certificate(root.rootPem).publicKey));
    assert.throws(
      () =>
        MeshCa.fromFiles({
          certFile: path.join(dir, "root-cert.pem"),
          keyFile: path.join(dir, "nope.pem"),
          trustDomain: "x",
        }),
      /ENOENT/,
    );
  });
});
