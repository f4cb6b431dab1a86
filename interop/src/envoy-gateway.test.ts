// A real Envoy 1.40 as an Istio-style gateway (`router~…`) of minimal-pilot,
// over SotW and over Delta: HTTP/1.1, HTTP/2 and gRPC requests reach real
// backends as the mesh's routes say, follow mesh-file edits within seconds,
// and a config Envoy refuses shows as a NACK while Envoy keeps its last good one.
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { type Backend, callEcho, grpcBackend, httpBackend } from "./harness/backends.js";
import { type Envoy, rejections, startEnvoy } from "./harness/envoy.js";
import { type Pilot, startPilot } from "./harness/pilot.js";
import { freePort, waitFor } from "./harness/wait.js";

const NODE = "router~127.0.0.1~gateway-1.default~default.svc.cluster.local";

interface PilotConnections {
  connections: {
    nodeId: string;
    types: {
      shortName: string;
      sentVersion?: string;
      ackedVersion?: string;
      lastNack?: { errorMessage: string; version: string };
    }[];
  }[];
}

/** One HTTP/1.1 request through the gateway: status and body. */
function get1(
  port: number,
  host: string,
  path = "/",
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, headers: { host, ...headers }, agent: false }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** One HTTP/2 (cleartext, prior knowledge) request through the gateway. */
function get2(port: number, authority: string, path = "/"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const req = session.request({ ":authority": authority, ":path": path, ":method": "GET" });
    let status = 0;
    let body = "";
    req.on("response", (h) => (status = Number(h[":status"])));
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      session.close();
      resolve({ status, body });
    });
    req.on("error", reject);
    req.end();
  });
}

for (const protocol of ["sotw", "delta"] as const) {
  describe(`Envoy gateway over ${protocol === "sotw" ? "State of the World" : "Delta"}`, () => {
    const backends: Record<string, Backend> = {};
    let pilot: Pilot;
    let envoy: Envoy;
    let gatewayPort: number;
    let grpcClient: grpc.Client;
    let mesh: (opts: { split: [number, number]; extraGatewayPort?: number }) => string;

    before(async () => {
      for (const [name, make] of [
        ["echo-v1", grpcBackend],
        ["echo-v2", grpcBackend],
        ["web-a", httpBackend],
        ["web-b", httpBackend],
      ] as const) {
        backends[name] = await make(name);
      }
      gatewayPort = await freePort();
      const ep = (n: string) => `[{ address: 127.0.0.1, port: ${backends[n]?.port} }]`;
      mesh = ({ split, extraGatewayPort }) => `services:
  - { name: echo, protocol: grpc, endpoints: ${ep("echo-v1")} }
  - { name: echo-v1, protocol: grpc, endpoints: ${ep("echo-v1")} }
  - { name: echo-v2, protocol: grpc, endpoints: ${ep("echo-v2")} }
  - { name: web, protocol: http, endpoints: ${ep("web-a")} }
  - { name: web-v2, protocol: http, endpoints: ${ep("web-b")} }
routes:
  - host: echo
    headers: { x-fault: "yes" }
    split: [{ service: echo-v1, weight: 1 }]
    fault: { abort: { grpcStatus: 7, percent: 100 } }
  - host: echo
    split: [{ service: echo-v1, weight: ${split[0]} }, { service: echo-v2, weight: ${split[1]} }]
  - { host: web, pathPrefix: /v2, split: [{ service: web-v2, weight: 1 }] }
  - { host: web, headers: { x-canary: "yes" }, split: [{ service: web-v2, weight: 1 }] }
  - { host: web, pathPrefix: /slow, split: [{ service: web, weight: 1 }], timeoutMs: 400 }
  - { host: web, pathPrefix: /broken, split: [{ service: web, weight: 1 }], fault: { abort: { httpStatus: 418, percent: 100 } } }
gateways:
  - { port: ${gatewayPort}, hosts: [echo, web] }
${extraGatewayPort ? `  - { port: ${extraGatewayPort}, hosts: [web] }\n` : ""}`;
      pilot = await startPilot(mesh({ split: [100, 0] }));
      envoy = await startEnvoy({ nodeId: NODE, xdsPort: pilot.xdsPort, delta: protocol === "delta" });
      grpcClient = new grpc.Client(`127.0.0.1:${gatewayPort}`, grpc.credentials.createInsecure(), {
        "grpc.default_authority": "echo",
      });
    });

    after(async () => {
      grpcClient?.close();
      await envoy?.stop();
      await pilot?.stop();
      for (const b of Object.values(backends)) await b.stop();
    });

    it("binds the gateway port and accepts everything", async () => {
      await waitFor("the gateway listener", async () =>
        (await envoy.listeners()).includes(`0.0.0.0_${gatewayPort}`) &&
        (await envoy.stat(`http.gateway_${gatewayPort}.rds.http.${gatewayPort}.update_success`)) > 0
          ? true
          : undefined,
      ).catch((err) => {
        throw new Error(`${err.message}\nenvoy log:\n${envoy.log().slice(-4000)}`);
      });
      assert.deepEqual(rejections(await envoy.stats()), []);
    });

    it("routes HTTP/1.1 and HTTP/2 by authority, path prefix and header", async () => {
      const body1 = await waitFor("HTTP/1.1 through the gateway", async () => {
        const r = await get1(gatewayPort, "web");
        return r.status === 200 ? r.body : undefined;
      });
      assert.equal(body1, "web-a");
      assert.equal((await get1(gatewayPort, `web:${gatewayPort}`)).body, "web-a", "the host with any port");
      assert.equal((await get1(gatewayPort, "web", "/v2/x")).body, "web-b", "path prefix");
      assert.equal((await get1(gatewayPort, "web", "/", { "x-canary": "yes" })).body, "web-b", "header match");
      assert.equal((await get1(gatewayPort, "nobody")).status, 404, "an unknown host");
      const h2 = await get2(gatewayPort, "web");
      assert.deepEqual(h2, { status: 200, body: "web-a" }, "HTTP/2 to an HTTP/1.1 backend");
      assert.equal((await get2(gatewayPort, "web", "/v2")).body, "web-b");
    });

    it("a route timeout and a fault abort, observed on the wire", async () => {
      const started = Date.now();
      const slow = await get1(gatewayPort, "web", "/slow", { "x-delay-ms": "3000" });
      assert.equal(slow.status, 504);
      assert.match(slow.body, /upstream request timeout/);
      assert.ok(Date.now() - started < 2500, "cut at the route's timeout, not the backend's pace");
      const broken = await get1(gatewayPort, "web", "/broken");
      assert.equal(broken.status, 418);
      assert.match(broken.body, /fault filter abort/);
      const md = new grpc.Metadata();
      md.set("x-fault", "yes");
      assert.equal(await callEcho(grpcClient, 3000, md), `error:${grpc.status.PERMISSION_DENIED}`, "a gRPC abort");
    });

    it("gRPC follows a weight change in the mesh file within seconds", async () => {
      const sample = async (n = 10) => {
        const out: string[] = [];
        for (let i = 0; i < n; i++) out.push(await callEcho(grpcClient));
        return out;
      };
      await waitFor("all gRPC on v1", async () => ((await sample()).every((x) => x === "echo-v1") ? true : undefined));
      const changed = Date.now();
      pilot.writeMesh(mesh({ split: [0, 100] }));
      await waitFor(
        "all gRPC on v2",
        async () => ((await sample()).every((x) => x === "echo-v2") ? true : undefined),
        10_000,
      );
      assert.ok(Date.now() - changed < 10_000);
      assert.deepEqual(rejections(await envoy.stats()), []);
    });

    it("a listener Envoy cannot apply shows as a NACK with Envoy's reason; Envoy keeps its last good config", async () => {
      // Another process holds the port of a new gateway: the pilot cannot know, Envoy refuses.
      const squatter = net.createServer();
      await new Promise<void>((r) => squatter.listen(0, "0.0.0.0", () => r()));
      const taken = (squatter.address() as net.AddressInfo).port;
      try {
        pilot.writeMesh(mesh({ split: [0, 100], extraGatewayPort: taken }));
        const nack = await waitFor("the NACK on the pilot's debug page", async () => {
          const c = (await pilot.admin<PilotConnections>("/debug/connections")).connections.find(
            (x) => x.nodeId === NODE,
          );
          return c?.types.find((t) => t.shortName === "LDS")?.lastNack;
        });
        assert.match(nack.errorMessage, new RegExp(`cannot bind '0\\.0\\.0\\.0:${taken}'`));
        assert.ok((await envoy.stat("listener_manager.lds.update_rejected")) >= 1);
        assert.ok((await envoy.listeners()).includes(`0.0.0.0_${gatewayPort}`), "the last good listener stays");
        assert.equal((await get1(gatewayPort, "web")).body, "web-a", "traffic keeps flowing");
      } finally {
        await new Promise((r) => squatter.close(r));
      }
      pilot.writeMesh(mesh({ split: [0, 100] }));
      await waitFor("a fresh ACK after the fix", async () => {
        const c = (await pilot.admin<PilotConnections>("/debug/connections")).connections.find(
          (x) => x.nodeId === NODE,
        );
        const lds = c?.types.find((t) => t.shortName === "LDS");
        return lds?.ackedVersion !== undefined && lds.ackedVersion === lds.sentVersion ? true : undefined;
      });
    });
  });
}
