// Services with several ports: clusters, endpoints, listeners and routes per
// port, endpoints on the port they serve each service port on, routes that
// keep the port, checks with paths — and a real grpc-js-xds client dialling
// `xds:///echo:8080` lands on the backend behind that port.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createAdsServer } from "@xdskit/ads-server";
import { bootstrap, startEcho } from "@xdskit/ads-server/testing";
import { TypeUrl } from "@xdskit/xds-types";
import type { ClusterLoadAssignment } from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import type { Listener } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import { createDiscoveryController } from "./controller.js";
import { DefaultConfigGenerator } from "./generator.js";
import { parseMeshFile } from "./mesh-file.js";
import { createMemorySource } from "./memory-source.js";
import type { Service } from "./model.js";
import { PushContext } from "./push-context.js";
import { validateService } from "./validate-model.js";

const multi = (p7070: number, p8080: number): Service => ({
  name: "echo",
  protocol: "grpc",
  ports: [
    { port: 7070, name: "grpc" },
    { port: 8080, name: "http", protocol: "http" },
  ],
  endpoints: [{ address: "127.0.0.1", port: p7070, ports: { "7070": p7070, "8080": p8080 } }],
});

const portOf = (cla: ClusterLoadAssignment | undefined) => {
  const host = cla?.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
  const address = host?.case === "endpoint" ? host.value.address?.address : undefined;
  return address?.case === "socketAddress" ? address.value.portSpecifier.value : undefined;
};

describe("services with several ports", () => {
  it("get clusters, assignments, listeners and routes per port", () => {
    const push = new PushContext(
      [multi(17070, 18080), { name: "other", port: 9000, endpoints: [{ address: "10.0.0.9", port: 9000 }] }],
      [{ host: "echo", split: [{ service: "echo", weight: 1 }], timeoutMs: 300 }],
    );
    const gen = new DefaultConfigGenerator();
    const proxyless = { kind: "proxyless" } as never;
    assert.deepEqual(
      gen.buildClusters(proxyless, push).map((c) => c.name),
      ["outbound|7070||echo", "outbound|8080||echo", "outbound|9000||other"],
    );
    const clas = gen.buildEndpoints(proxyless, push);
    assert.equal(portOf(clas.find((c) => c.clusterName === "outbound|7070||echo")), 17070);
    assert.equal(
      portOf(clas.find((c) => c.clusterName === "outbound|8080||echo")),
      18080,
      "the endpoint's port for 8080",
    );
    const listeners = gen.buildListeners(proxyless, push);
    assert.deepEqual(
      listeners.map((l) => l.name),
      ["echo", "echo:7070", "echo:8080", "other", "other:9000"],
      "the bare name is the first port's",
    );
    const routes = gen.buildRoutes(proxyless, push);
    assert.deepEqual(
      routes.map((r) => r.name),
      ["echo", "echo:8080", "other"],
    );
    // The route rule applies to each port and keeps the request's port.
    const clusterOfRoute = (name: string) => {
      const action = routes.find((r) => r.name === name)?.virtualHosts[0]?.routes[0]?.action;
      return action?.case === "route" && action.value.clusterSpecifier.case === "cluster"
        ? action.value.clusterSpecifier.value
        : undefined;
    };
    assert.equal(clusterOfRoute("echo"), "outbound|7070||echo");
    assert.equal(clusterOfRoute("echo:8080"), "outbound|8080||echo");
    // Sidecars: a listener per port; the inbound side serves the endpoint's own ports.
    const sidecar = { kind: "sidecar", ip: "127.0.0.1" } as never;
    const names = gen.buildListeners(sidecar, push).map((l: Listener) => l.name);
    for (const n of ["0.0.0.0_7070", "0.0.0.0_8080"]) assert.ok(names.includes(n), `${n} in ${names.join(", ")}`);
    assert.deepEqual(
      gen.buildInboundClusters(sidecar, push).map((c) => c.name),
      ["inbound|17070||", "inbound|18080||"],
    );
  });

  it("are checked with paths, in code and in the mesh file", () => {
    const bad = (s: Partial<Service>, re: RegExp) =>
      assert.throws(() => validateService({ name: "a", endpoints: [], ...s } as Service, "s"), re);
    bad({ port: 80, ports: [{ port: 81 }] }, /s\.port: give either port or ports, not both/);
    bad({ ports: [] }, /s\.ports: must list at least one port/);
    bad({ ports: [{ port: 81 }, { port: 81 }] }, /s\.ports\[1\]\.port: port 81 is listed twice/);
    bad({ ports: [{ port: 81, name: "Web_1" }] }, /s\.ports\[0\]\.name: must be a DNS label/);
    bad(
      { ports: [{ port: 81 }], endpoints: [{ address: "10.0.0.1", port: 81, ports: { "82": 1 } }] },
      /s\.endpoints\[0\]\.ports\.82: the service has no port 82; it has 81/,
    );
    bad({ endpoints: [{ address: "10.0.0.1", port: 81, ports: { "81": 1 } }] }, /applies only to a service with ports/);
    assert.throws(
      () =>
        parseMeshFile(
          `services:
  - name: a
    ports: [{ port: 80 }, { port: 81 }]
    endpoints: [{ address: 10.0.0.1, port: 80 }]
routes:
  - host: a
    split: [{ service: a, port: 82, weight: 1 }]
`,
          "mesh.yaml",
        ),
      /mesh\.yaml: routes\[0\]\.split\[0\]\.port: service "a" has no port 82; it has 80, 81/,
    );
  });

  describe("with a real grpc-js-xds client", () => {
    let b7070: Awaited<ReturnType<typeof startEcho>>;
    let b8080: Awaited<ReturnType<typeof startEcho>>;
    let xdsPort = 0;
    const source = createMemorySource();
    const controller = createDiscoveryController({ services: source, config: source, debounceMs: 1 });
    const ads = createAdsServer({ registry: controller.registry });
    before(async () => {
      b7070 = await startEcho("behind-7070");
      b8080 = await startEcho("behind-8080");
      source.setService(multi(b7070.port, b8080.port));
      xdsPort = await ads.listen();
    });
    after(async () => {
      controller.close();
      await ads.shutdown(500);
      await b7070.stop();
      await b8080.stop();
    });

    it("dials each port by name and lands on the backend behind it", async () => {
      // grpc-js-xds holds its xDS stream for the life of its process: the client runs in one of its own.
      const client = `
        process.env.GRPC_XDS_BOOTSTRAP_CONFIG = ${JSON.stringify(bootstrap(xdsPort, "ports-test"))};
        const grpc = await import("@grpc/grpc-js");
        (await import("@grpc/grpc-js-xds")).register();
        const { callEcho } = await import("@xdskit/ads-server/testing");
        const out = {};
        for (const target of ["xds:///echo:8080", "xds:///echo:7070", "xds:///echo"]) {
          const c = new grpc.Client(target, grpc.credentials.createInsecure());
          out[target] = await callEcho(c).catch((e) => "error: " + e.message);
          c.close();
        }
        console.log(JSON.stringify(out));
        process.exit(0);`;
      // Not spawnSync: the control plane runs in this process and must keep answering.
      const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = execFile(
          process.execPath,
          ["--input-type=module", "-e", client],
          { cwd: path.dirname(fileURLToPath(import.meta.url)), timeout: 30_000 },
          (err, stdout, stderr) => resolve({ status: err ? (err.code as number) : 0, stdout, stderr }),
        );
        child.stdin?.end();
      });
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout.trim().split("\n").pop() ?? "{}"), {
        "xds:///echo:8080": "behind-8080",
        "xds:///echo:7070": "behind-7070",
        "xds:///echo": "behind-7070",
      });
      const group = [...controller.nodeGroups().keys()][0] ?? "";
      assert.equal(controller.registry.getSnapshot(group)?.get(TypeUrl.Cluster)?.resources.size, 2);
    });
  });
});
