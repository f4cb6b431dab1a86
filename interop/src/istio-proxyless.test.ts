// Istio's traffic tasks for proxyless gRPC: a ServiceEntry, a DestinationRule
// with subsets and a VirtualService written as Istio's docs write them, read
// by minimal-pilot from a folder, and real grpc-js-xds and grpc-go clients
// calling through them: weighted subsets, routing by header, fault
// injection, timeouts and retries. The same VirtualService holds what gRPC
// has no use for (a redirect, a query-parameter match, a mirror, CORS): the
// clients get none of it and NACK nothing.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Backend, grpcBackend } from "./harness/backends.js";
import {
  type Driver,
  type DriverAnswer,
  grpcGoBinary,
  startDriver,
  startGrpcJsDriver,
  untilBatch,
  writeBootstrap,
} from "./harness/drivers.js";
import { type IstioPilot, startIstioPilot } from "./harness/pilot.js";

const HOST = "echo.default.svc.cluster.local";
const TARGET = `xds:///${HOST}:50051`;

const serviceEntry = (b: readonly Backend[]) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: echo, namespace: default }
spec:
  hosts: [${HOST}]
  ports: [{ number: 50051, name: grpc, protocol: GRPC }]
  resolution: STATIC
  endpoints:
${b.map((x, i) => `    - { address: 127.0.0.1, ports: { grpc: ${x.port} }, labels: { version: v${i + 1} } }`).join("\n")}
`;

const rules = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo, namespace: default }
spec:
  host: echo
  trafficPolicy: { outlierDetection: { consecutive5xxErrors: 50, interval: 10s } }
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
    - { name: v3, labels: { version: v3 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo]
  http:
    - match: [{ headers: { end-user: { exact: jason } } }]
      route: [{ destination: { host: echo, subset: v2 } }]
    - match: [{ headers: { x-fault: { exact: abort } } }]
      fault: { abort: { grpcStatus: UNAVAILABLE, percentage: { value: 100 } } }
      route: [{ destination: { host: echo, subset: v1 } }]
    - match: [{ headers: { x-slow: {} } }]
      timeout: 300ms
      route: [{ destination: { host: echo, subset: v1 } }]
    - match: [{ headers: { x-retry: {} } }]
      retries: { attempts: 3, retryOn: unavailable }
      route: [{ destination: { host: echo, subset: v3 } }]
    - match: [{ uri: { prefix: /legacy }, queryParams: { v: { exact: "1" } } }]
      route: [{ destination: { host: echo, subset: v2 } }]
    - match: [{ uri: { prefix: /moved } }]
      redirect: { uri: /elsewhere }
    - route:
        - { destination: { host: echo, subset: v1 }, weight: 50 }
        - { destination: { host: echo, subset: v3 }, weight: 50 }
      mirror: { host: echo, subset: v2 }
      corsPolicy: { allowOrigins: [{ exact: "https://example.com" }] }
`;

describe("Istio's traffic tasks with proxyless gRPC (grpc-js-xds, grpc-go)", () => {
  let pilot: IstioPilot;
  let b: Backend[] = [];
  const drivers: Driver[] = [];
  const clients: [string, Driver][] = [];

  before(async () => {
    b = [await grpcBackend("v1"), await grpcBackend("v2"), await grpcBackend("v3")];
    pilot = await startIstioPilot({ "echo.yaml": serviceEntry(b), "rules.yaml": rules });
    for (const [kind, id] of [
      ["grpc-js", "istio-js"],
      ["grpc-go", "istio-go"],
    ] as const) {
      const bootstrap = writeBootstrap(pilot.xdsPort, { id, cluster: "interop", metadata: { NAMESPACE: "default" } });
      const d = kind === "grpc-js" ? startGrpcJsDriver(bootstrap) : startDriver(grpcGoBinary(), [], bootstrap);
      drivers.push(d);
      clients.push([kind, d]);
    }
  });

  after(async () => {
    for (const d of drivers) await d.stop();
    await pilot?.stop();
    for (const x of b) await x.stop();
  });

  const until = (what: string, d: Driver, batch: () => Promise<DriverAnswer>, ok: (a: DriverAnswer) => boolean) =>
    untilBatch(what, d, batch, ok, () => `pilot:\n${pilot.output().slice(-4000)}`);

  it("weighted subsets: v1 and v3 share the traffic, v2 gets none", async () => {
    for (const [kind, d] of clients) {
      const a = await until(
        `${kind}: 50/50 over v1 and v3`,
        d,
        () => d.call(TARGET, 200),
        (x) => x.errorCount === 0 && (x.answers.v1 ?? 0) > 0,
      );
      const v1 = a.answers.v1 ?? 0;
      const v3 = a.answers.v3 ?? 0;
      assert.equal(a.answers.v2 ?? 0, 0, `${kind}: v2 gets no traffic (the mirror copies to it on Envoy only)`);
      assert.equal(v1 + v3, 200);
      assert.ok(v1 >= 60 && v3 >= 60, `${kind}: ${v1}/${v3} is not near 50/50`);
    }
  });

  it("routing by header: end-user jason goes to v2", async () => {
    for (const [kind, d] of clients) {
      const a = await d.call(TARGET, 20, { metadata: { "end-user": "jason" } });
      assert.deepEqual(a.answers, { v2: 20 }, `${kind}: ${JSON.stringify(a)}`);
    }
  });

  it("fault injection: an abort with a gRPC status fails every matching call", async () => {
    for (const [kind, d] of clients) {
      const a = await d.call(TARGET, 10, { metadata: { "x-fault": "abort" } });
      assert.deepEqual(a.codes, { UNAVAILABLE: 10 }, `${kind}: ${JSON.stringify(a)}`);
    }
  });

  it("request timeout: a call slower than the route's 300 ms ends DEADLINE_EXCEEDED", async () => {
    for (const [kind, d] of clients) {
      const a = await d.call(TARGET, 3, { metadata: { "x-slow": "1", "x-delay-ms": "1500" }, deadlineMs: 5000 });
      assert.deepEqual(a.codes, { DEADLINE_EXCEEDED: 3 }, `${kind}: ${JSON.stringify(a)}`);
      assert.ok((a.maxMs ?? 0) < 1500 || kind === "grpc-go", `${kind}: cut at the route's timeout`);
    }
  });

  it("retries: two failed attempts, then an answer", async () => {
    for (const [kind, d] of clients) {
      const a = await d.call(TARGET, 5, { metadata: { "x-retry": "1", "x-fail-attempts": "2" } });
      assert.deepEqual(a.answers, { v3: 5 }, `${kind}: ${JSON.stringify(a)}`);
    }
  });

  it("nothing was NACKed: the clients were never sent what gRPC cannot take", async () => {
    const sync = await pilot.admin<{ connections: { nodeId: string; types: { lastNack?: unknown }[] }[] }>(
      "/debug/connections",
    );
    const ours = sync.connections.filter((c) => c.nodeId.startsWith("istio-"));
    assert.equal(ours.length, 2);
    for (const c of ours)
      assert.deepEqual(
        c.types.filter((t) => t.lastNack),
        [],
        `${c.nodeId} NACKed`,
      );
  });
});
