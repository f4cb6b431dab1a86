// xDS-enabled gRPC servers (A36), mTLS between services from the control
// plane (A29) and authorization at the server (A41), configured in
// minimal-pilot's mesh file: a real grpc-js-xds XdsServer serves only once it
// has its listener; grpc-js-xds and grpc-go clients with xDS credentials call
// it over mTLS with certificate files their bootstraps name; RBAC refuses
// who and what the rules say.
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, it } from "node:test";
import type { AuthorizationRule, Service } from "@xdskit/config-generator";
import { type CertFiles, type TestPki, createTestPki } from "@xdskit/ads-server/testing";
import {
  type Driver,
  type DriverAnswer,
  grpcGoBinary,
  startDriver,
  startGrpcJsDriver,
  writeBootstrap,
} from "./harness/drivers.js";
import { meshText } from "./harness/mesh.js";
import { type Pilot, startPilot } from "./harness/pilot.js";
import { freePort, waitFor } from "./harness/wait.js";

const TRUST = "spiffe://test.local/ns/default/sa";
const TEMPLATE = "grpc/server?xds.resource.listening_address=%s";

describe("xDS-enabled servers, mTLS and RBAC (grpc-js-xds servers; grpc-js-xds and grpc-go clients)", () => {
  let pki: TestPki;
  let ca: CertFiles;
  let pilot: Pilot;
  let plainPort: number;
  let securePort: number;
  const files: string[] = [];
  const drivers: Driver[] = [];

  const providers = (id: CertFiles | undefined, trust: CertFiles) => ({
    certificate_providers: {
      default: {
        plugin_name: "file_watcher",
        config: {
          ...(id ? { certificate_file: id.cert, private_key_file: id.key } : {}),
          ca_certificate_file: trust.cert,
          refresh_interval: "1s",
        },
      },
    },
  });

  const start = (
    kind: "js" | "go",
    id: string,
    opts: { cert?: CertFiles; trust?: CertFiles; server?: boolean; xdsCreds?: boolean },
  ) => {
    const bootstrap = writeBootstrap(
      pilot.xdsPort,
      { id, cluster: "interop", ...(opts.server ? { metadata: { INSTANCE_IPS: "127.0.0.1" } } : {}) },
      { type: "insecure" },
      {
        ...(opts.trust ? providers(opts.cert, opts.trust) : {}),
        ...(opts.server ? { server_listener_resource_name_template: TEMPLATE } : {}),
      },
    );
    files.push(bootstrap);
    const env: Record<string, string> = { GRPC_XDS_EXPERIMENTAL_RBAC: "true" };
    if (opts.xdsCreds !== false) env.DRIVER_XDS_CREDS = "1";
    const d = kind === "js" ? startGrpcJsDriver(bootstrap, env) : startDriver(grpcGoBinary(), [], bootstrap, env);
    drivers.push(d);
    return d;
  };

  const services = (authorization: AuthorizationRule[]): Service[] => [
    {
      name: "plain",
      protocol: "grpc",
      endpoints: [{ address: "127.0.0.1", port: plainPort }],
      authorization: [{ name: "no-blocked", action: "deny", headers: { "x-block": "yes" } }],
    },
    {
      name: "secure",
      protocol: "grpc",
      endpoints: [{ address: "127.0.0.1", port: securePort }],
      tls: { subjectAltNames: [`${TRUST}/secure`] },
      authorization,
    },
  ];

  const onlyClient: AuthorizationRule[] = [
    { name: "client-only", action: "allow", principals: [`${TRUST}/client`], paths: ["/echo.Echo/*"] },
  ];

  const settled = async (what: string, d: Driver, target: string, ok: (a: DriverAnswer) => boolean, metadata = {}) => {
    let last: DriverAnswer | undefined;
    return waitFor(
      what,
      async () => {
        last = await d.call(target, 5, { deadlineMs: 2000, budgetMs: 8000, metadata });
        return ok(last) ? last : undefined;
      },
      30_000,
      250,
    ).catch((err) => {
      throw new Error(`${err.message}\nlast: ${JSON.stringify(last)}\nclient:\n${d.log().slice(-2500)}`);
    });
  };

  before(async () => {
    pki = createTestPki();
    ca = pki.ca("mesh");
    plainPort = await freePort();
    securePort = await freePort();
    pilot = await startPilot(meshText(services(onlyClient)));
    const server = start("js", "grpc-js-server", {
      cert: pki.workload(ca, "secure", [`${TRUST}/secure`]),
      trust: ca,
      server: true,
    });
    for (const [port, name] of [
      [plainPort, "plain-server"],
      [securePort, "secure-server"],
    ] as const) {
      const r = await server.request<{ serving?: boolean; error?: string }>({ serve: { port, name } }, 30_000);
      assert.equal(r.serving, true, `the xDS server on ${port} serves once it has its listener: ${JSON.stringify(r)}`);
    }
  });

  after(async () => {
    for (const d of drivers) await d.stop();
    await pilot?.stop();
    pki?.remove();
    for (const f of files) fs.rmSync(f, { force: true });
  });

  it("serves a plaintext xDS server through its listener, and its RBAC denies by header (A36, A41)", async () => {
    const c = start("js", "grpc-js-plain", { xdsCreds: false });
    await settled("calls to the plaintext xDS server", c, "xds:///plain", (a) => a.answers["plain-server"] === 5);
    const denied = await c.call("xds:///plain", 3, { metadata: { "x-block": "yes" } });
    assert.equal(denied.codes?.PERMISSION_DENIED, 3, JSON.stringify(denied));
    const pages = await pilot.admin<{ nodes?: unknown }>("/debug/syncz");
    assert.match(JSON.stringify(pages), /grpc-js-server/);
  });

  it("mTLS from certificate providers (A29): the right certificate passes, another CA or plaintext does not", async () => {
    const good = pki.workload(ca, "client", [`${TRUST}/client`]);
    for (const kind of ["js", "go"] as const) {
      const c = start(kind, `${kind}-client`, { cert: good, trust: ca });
      await settled(`${kind}: calls over mTLS`, c, "xds:///secure", (a) => a.answers["secure-server"] === 5);
    }
    const stranger = pki.ca("stranger");
    const foreign = start("js", "js-foreign", {
      cert: pki.workload(stranger, "foreign", [`${TRUST}/client`]),
      trust: ca,
    });
    const plain = start("js", "js-plaintext", { xdsCreds: false });
    for (const c of [foreign, plain]) {
      const r = await c.call("xds:///secure", 3, { deadlineMs: 2000, budgetMs: 8000 });
      assert.equal(r.answers["secure-server"], undefined, JSON.stringify(r));
      assert.equal(r.codes?.UNAVAILABLE, 3, JSON.stringify(r));
    }
  });

  it("checks the server's name (SAN) and authorizes by peer identity and path (A29, A41)", async () => {
    const other = start("js", "js-other", { cert: pki.workload(ca, "other", [`${TRUST}/other`]), trust: ca });
    const denied = await settled(
      "a peer the rules do not allow to be refused",
      other,
      "xds:///secure",
      (a) => a.codes?.PERMISSION_DENIED === 5,
    );
    assert.match(denied.errors.join("\n"), /PERMISSION_DENIED/);
    // The client insists on a name the server's certificate does not carry.
    const client = start("js", "js-san", { cert: pki.workload(ca, "client2", [`${TRUST}/client`]), trust: ca });
    await settled("calls over mTLS", client, "xds:///secure", (a) => a.answers["secure-server"] === 5);
    pilot.writeMesh(
      meshText(
        services(onlyClient).map((s) =>
          s.name === "secure" ? { ...s, tls: { subjectAltNames: [`${TRUST}/impostor`] } } : s,
        ),
      ),
    );
    await settled(
      "a server without the asked-for name to be refused",
      client,
      "xds:///secure",
      (a) => a.codes?.UNAVAILABLE === 5,
    );
  });
});
