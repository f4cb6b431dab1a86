// A real Envoy 1.40 as an Istio-style sidecar of minimal-pilot, over SotW and
// over Delta: it accepts every type (its own stats say so), holds what the
// pilot says it sent, and takes an endpoint change as EDS alone.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Backend, grpcBackend, httpBackend } from "./harness/backends.js";
import { type Envoy, rejections, startEnvoy } from "./harness/envoy.js";
import { type Pilot, startPilot } from "./harness/pilot.js";
import { waitFor } from "./harness/wait.js";

const NODE = "sidecar~127.0.0.1~envoy-1.default~default.svc.cluster.local";

interface PilotDump {
  config: Record<string, { version: string; resources: { name: string; version: string }[] }>;
}
interface PilotConnections {
  connections: {
    nodeId: string;
    types: { shortName: string; sentVersion?: string; ackedVersion?: string; lastNack?: { errorMessage: string } }[];
  }[];
}

const LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener";
const CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
const ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

for (const protocol of ["sotw", "delta"] as const) {
  describe(`Envoy sidecar over ${protocol === "sotw" ? "State of the World" : "Delta"}`, () => {
    const backends: Backend[] = [];
    let pilot: Pilot;
    let envoy: Envoy;
    let mesh: (echoEndpoints: number) => string;

    before(async () => {
      backends.push(
        await grpcBackend("echo-a"),
        await grpcBackend("echo-b"),
        // Another workload's address: adding it changes EDS only (an endpoint
        // on the sidecar's own IP would also change its inbound config).
        await grpcBackend("echo-c", "127.0.0.3"),
        await httpBackend("web-a"),
        await httpBackend("db-a"),
      );
      const [a, b, c, web, db] = backends as [Backend, Backend, Backend, Backend, Backend];
      mesh = (n) => `services:
  - name: echo
    port: ${a.port}
    protocol: grpc
    endpoints:
${[a, b, c]
  .slice(0, n)
  .map((x) => `      - { address: ${x === c ? "127.0.0.3" : "127.0.0.1"}, port: ${x.port} }`)
  .join("\n")}
  - name: web
    protocol: http
    endpoints: [{ address: 127.0.0.1, port: ${web.port} }]
  - name: db
    protocol: tcp
    endpoints: [{ address: 127.0.0.1, port: ${db.port} }]
routes:
  - host: web
    pathPrefix: /slow
    split: [{ service: web, weight: 1 }]
    timeoutMs: 700
    retries: { attempts: 2, on: "5xx,reset", backoffBaseMs: 20 }
  - host: web
    pathPrefix: /broken
    split: [{ service: web, weight: 1 }]
    fault: { abort: { httpStatus: 503, percent: 100 } }
`;
      pilot = await startPilot(mesh(2));
      envoy = await startEnvoy({ nodeId: NODE, xdsPort: pilot.xdsPort, delta: protocol === "delta" });
    });

    after(async () => {
      await envoy?.stop();
      await pilot?.stop();
      for (const b of backends) await b.stop();
    });

    it("accepts every type: no rejection, no listener failure, every listener active", async () => {
      await waitFor(
        "Envoy to apply CDS, EDS, LDS and RDS",
        async () => {
          const s = await envoy.stats();
          const rdsOk = [...s].filter(([k, v]) => /\.rds\..*\.update_success$/.test(k) && v > 0).length;
          return (s.get("listener_manager.lds.update_success") ?? 0) > 0 &&
            (s.get("cluster_manager.cds.update_success") ?? 0) > 0 &&
            rdsOk >= 1 &&
            s.get("listener_manager.total_listeners_active") === 5
            ? true
            : undefined;
        },
        20_000,
      ).catch((err) => {
        throw new Error(`${err.message}\nenvoy log:\n${envoy.log().slice(-4000)}`);
      });
      assert.deepEqual(
        rejections(await envoy.stats()),
        [],
        "no update_rejected, update_failure or listener_create_failure",
      );
      const [a, , , web, db] = backends as Backend[];
      assert.deepEqual(
        (await envoy.listeners()).sort(),
        [
          "virtualInbound",
          "virtualOutbound",
          `0.0.0.0_${a?.port}`,
          `0.0.0.0_${web?.port}`,
          `0.0.0.0_${db?.port}`,
        ].sort(),
      );
      assert.ok(!/Address already in use/.test(envoy.log()), "no listener binds an application port");
    });

    it("holds exactly what the pilot says it sent, and the pilot sees every type ACKed", async () => {
      const dump = await envoy.configDump();
      const ours = await pilot.admin<PilotDump>(`/debug/config_dump?node=${encodeURIComponent(NODE)}`);
      const names = (t: string) => ours.config[t]?.resources.map((r) => r.name).sort();
      const listeners = dump.configs.flatMap((c) => c.dynamic_listeners ?? []).map((l) => l.name);
      const clusters = dump.configs.flatMap((c) => c.dynamic_active_clusters ?? []).map((c) => c.cluster.name);
      const routes = dump.configs.flatMap((c) => c.dynamic_route_configs ?? []).map((r) => r.route_config.name);
      assert.deepEqual(listeners.sort(), names(LISTENER));
      assert.deepEqual(clusters.sort(), names(CLUSTER));
      assert.deepEqual(routes.sort(), names(ROUTE));
      if (protocol === "delta") {
        // Delta: Envoy records each resource's own version.
        const versions = new Map(ours.config[LISTENER]?.resources.map((r) => [r.name, r.version]));
        for (const l of dump.configs.flatMap((c) => c.dynamic_listeners ?? [])) {
          assert.equal(l.active_state?.version_info, versions.get(l.name), `version of ${l.name}`);
        }
      } else {
        for (const l of dump.configs.flatMap((c) => c.dynamic_listeners ?? [])) {
          assert.equal(l.active_state?.version_info, ours.config[LISTENER]?.version, `version of ${l.name}`);
        }
      }
      const conns = await waitFor("every type ACKed", async () => {
        const c = (await pilot.admin<PilotConnections>("/debug/connections")).connections.find(
          (x) => x.nodeId === NODE,
        );
        return c?.types.every((t) => t.ackedVersion !== undefined && t.ackedVersion === t.sentVersion) ? c : undefined;
      });
      assert.deepEqual(conns.types.map((t) => t.shortName).sort(), ["CDS", "EDS", "LDS", "RDS"]);
      assert.ok(conns.types.every((t) => !t.lastNack));
    });

    it("an endpoint change arrives as EDS alone, with no LDS or CDS churn", async () => {
      const echo = `outbound|${backends[0]?.port}||echo`;
      const hosts = async () =>
        (await envoy.clusters()).cluster_statuses
          .find((c) => c.name === echo)
          ?.host_statuses?.map((h) => h.address.socket_address.port_value)
          .sort();
      assert.equal((await hosts())?.length, 2);
      const before = await envoy.stats();
      pilot.writeMesh(mesh(3));
      await waitFor("the third endpoint in Envoy", async () => ((await hosts())?.length === 3 ? true : undefined));
      const now = await envoy.stats();
      for (const k of ["listener_manager.lds.update_success", "cluster_manager.cds.update_success"]) {
        assert.equal(now.get(k), before.get(k), `${k} did not move`);
      }
      assert.ok((now.get(`cluster.${echo}.update_success`) ?? 0) > (before.get(`cluster.${echo}.update_success`) ?? 0));
      assert.deepEqual(rejections(now), []);
    });
  });
}
