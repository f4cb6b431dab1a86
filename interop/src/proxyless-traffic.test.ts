// Traffic features of proxyless gRPC, configured in minimal-pilot's mesh file
// and shown working with real clients: grpc-js-xds and grpc-go (least
// request also with grpc-go's own CSDS view). Each test writes the whole
// mesh, waits until the clients behave as the feature says, and measures.
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { type Backend, grpcBackend } from "./harness/backends.js";
import {
  type Driver,
  type DriverAnswer,
  grpcGoBinary,
  grpcJavaLauncher,
  startDriver,
  startGrpcJsDriver,
  untilBatch,
  writeBootstrap,
} from "./harness/drivers.js";
import { grpcService, meshText } from "./harness/mesh.js";
import type { RouteRetries, RouteRule } from "@xdskit/config-generator";
import { type Pilot, startPilot } from "./harness/pilot.js";

describe("proxyless gRPC traffic features (grpc-js-xds, grpc-go, grpc-java)", () => {
  let pilot: Pilot;
  let b: Backend[] = [];
  const bootstraps: string[] = [];
  const drivers: Driver[] = [];
  let js: Driver;
  let go: Driver;
  let java: Driver;

  const client = (kind: "js" | "go" | "java", id: string, locality = { region: "local", zone: "a" }) => {
    const bootstrap = writeBootstrap(pilot.xdsPort, { id, cluster: "interop", locality });
    bootstraps.push(bootstrap);
    const d =
      kind === "js"
        ? startGrpcJsDriver(bootstrap)
        : kind === "go"
          ? startDriver(grpcGoBinary(), [], bootstrap)
          : startDriver("sh", [grpcJavaLauncher()], bootstrap);
    drivers.push(d);
    return d;
  };

  // Waits until a batch of calls satisfies `ok`; the failure names the last
  // batch and the client's and pilot's last words.
  const until = (what: string, d: Driver, batch: () => Promise<DriverAnswer>, ok: (a: DriverAnswer) => boolean) =>
    untilBatch(what, d, batch, ok, () => `pilot:\n${pilot.output().slice(-6000)}`);

  before(async () => {
    b = [await grpcBackend("b1"), await grpcBackend("b2"), await grpcBackend("b3")];
    pilot = await startPilot(meshText([grpcService("echo", [b[0] as Backend])]), ["--group-by-locality"]);
    js = client("js", "grpc-js-traffic");
    go = client("go", "grpc-go-traffic");
    java = client("java", "grpc-java-traffic");
  });

  after(async () => {
    for (const d of drivers) await d.stop();
    await pilot?.stop();
    for (const x of b) await x.stop();
    for (const f of bootstraps) fs.rmSync(f, { force: true });
  });

  it("timeouts as gRPC reads them (A31): a 500 ms route timeout fails a 3 s call; a cap cuts a long deadline", async () => {
    const [b1] = b as [Backend];
    pilot.writeMesh(
      meshText(
        [grpcService("echo", [b1])],
        [{ host: "echo", split: [{ service: "echo", weight: 1 }], timeoutMs: 500 }],
      ),
    );
    for (const d of [js, go, java]) {
      const slow = await until(
        "a 3 s call to fail with DEADLINE_EXCEEDED after the route's 500 ms",
        d,
        () => d.call("xds:///echo", 1, { deadlineMs: 5000, metadata: { "x-delay-ms": "3000" } }),
        (a) => a.codes?.DEADLINE_EXCEEDED === 1,
      );
      if (slow.maxMs !== undefined) assert.ok(slow.maxMs < 2000, `the call took ${slow.maxMs} ms`);
      const quick = await d.call("xds:///echo", 5, { deadlineMs: 5000 });
      assert.deepEqual(quick.answers, { b1: 5 });
    }
    // The grpc-timeout cap wins over the duration for gRPC (A31).
    pilot.writeMesh(
      meshText(
        [grpcService("echo", [b1])],
        [{ host: "echo", split: [{ service: "echo", weight: 1 }], timeoutMs: 10_000, grpcTimeoutCapMs: 300 }],
      ),
    );
    const capped = await until(
      "a 5 s deadline to be cut to the 300 ms cap",
      js,
      () => js.call("xds:///echo", 1, { deadlineMs: 5000, metadata: { "x-delay-ms": "2000" } }),
      (a) => a.codes?.DEADLINE_EXCEEDED === 1 && (a.maxMs ?? 9999) < 1500,
    );
    assert.ok((capped.maxMs ?? 0) >= 250, `cut at ${capped.maxMs} ms`);
  });

  it("retries on gRPC status codes (A44): a call failing twice with UNAVAILABLE succeeds with 2 retries", async () => {
    const [b1] = b as [Backend];
    const route = (retries?: RouteRetries): RouteRule => ({
      host: "echo",
      split: [{ service: "echo", weight: 1 }],
      ...(retries ? { retries } : {}),
    });
    pilot.writeMesh(
      meshText([grpcService("echo", [b1])], [route({ attempts: 2, on: "unavailable", backoffBaseMs: 10 })]),
    );
    for (const d of [js, go, java]) {
      const a = await until(
        "calls whose first two attempts fail to succeed",
        d,
        () => d.call("xds:///echo", 10, { metadata: { "x-fail-attempts": "2" } }),
        (x) => x.answers.b1 === 10,
      );
      assert.equal(a.errorCount, 0);
    }
    // Without the retry policy the same calls fail: it was the policy.
    pilot.writeMesh(meshText([grpcService("echo", [b1])], [route()]));
    for (const d of [js, go, java]) {
      await until(
        "calls to fail once the retry policy is gone",
        d,
        () => d.call("xds:///echo", 5, { metadata: { "x-fail-attempts": "2" } }),
        (x) => x.codes?.UNAVAILABLE === 5,
      );
    }
  });

  it("fault injection (A33): aborts at about the configured rate with the configured code; delays", async () => {
    const [b1] = b as [Backend];
    pilot.writeMesh(
      meshText(
        [grpcService("echo", [b1])],
        [
          {
            host: "echo",
            split: [{ service: "echo", weight: 1 }],
            fault: { abort: { grpcStatus: 8, percent: 50 } },
          },
        ],
      ),
    );
    for (const d of [js, go, java]) {
      await until(
        "the first injected abort",
        d,
        () => d.call("xds:///echo", 20),
        (a) => (a.codes?.RESOURCE_EXHAUSTED ?? 0) > 0,
      );
      const a = await d.call("xds:///echo", 200, { budgetMs: 30_000 });
      const aborted = a.codes?.RESOURCE_EXHAUSTED ?? 0;
      // 50% of 200: 100 expected; 60..140 is beyond 5.6 standard deviations.
      assert.ok(aborted >= 60 && aborted <= 140, `${aborted} of 200 aborted: ${JSON.stringify(a.codes)}`);
      assert.equal(aborted + (a.answers.b1 ?? 0), 200, JSON.stringify(a));
    }
    pilot.writeMesh(
      meshText(
        [grpcService("echo", [b1])],
        [{ host: "echo", split: [{ service: "echo", weight: 1 }], fault: { delay: { fixedMs: 400, percent: 100 } } }],
      ),
    );
    const delayed = await until(
      "calls to be delayed by 400 ms",
      js,
      () => js.call("xds:///echo", 3),
      (a) => a.answers.b1 === 3 && (a.p50Ms ?? 0) >= 400,
    );
    assert.ok((delayed.maxMs ?? 0) < 2000);
  });

  it("ring hash on a header (A42): one header value sticks to one backend, many values spread", async () => {
    pilot.writeMesh(
      meshText([grpcService("echo", b, { loadBalancer: { policy: "ring-hash", hashHeaders: ["x-user"] } })]),
    );
    for (const d of [js, go, java]) {
      // Round robin would spread 30 calls of one user over all three.
      const alice = await until(
        "calls of one user to land on one backend",
        d,
        () => d.call("xds:///echo", 30, { metadata: { "x-user": "alice" } }),
        (a) => Object.keys(a.answers).length === 1 && a.errorCount === 0,
      );
      const home = Object.keys(alice.answers)[0] as string;
      const again = await d.call("xds:///echo", 10, { metadata: { "x-user": "alice" } });
      assert.deepEqual(again.answers, { [home]: 10 });
      const seen = new Set<string>();
      for (let u = 0; u < 24; u++) {
        const a = await d.call("xds:///echo", 3, { metadata: { "x-user": `user-${u}` } });
        assert.equal(Object.keys(a.answers).length, 1, `user-${u} moved: ${JSON.stringify(a.answers)}`);
        seen.add(Object.keys(a.answers)[0] as string);
      }
      assert.ok(seen.size >= 2, `24 users all hashed to ${[...seen]}`);
    }
  });

  it("outlier detection (A50): a failing backend is ejected and stops getting calls", async () => {
    const [b1, b2] = b as [Backend, Backend];
    b2.failing = true;
    try {
      pilot.writeMesh(
        meshText([
          grpcService("echo", [b1, b2], {
            outlierDetection: {
              intervalMs: 300,
              baseEjectionMs: 60_000,
              maxEjectionPercent: 50,
              failurePercentage: { threshold: 50, minimumHosts: 2, requestVolume: 5 },
            },
          }),
        ]),
      );
      const a = await until(
        "the failing backend to be ejected",
        js,
        () => js.call("xds:///echo", 20),
        // b2 must have been tried (and failed) for the client to judge it.
        (x) => x.answers.b1 === 20 && (b2.calls ?? 0) >= 5,
      );
      assert.equal(a.errorCount, 0);
      const before = b2.calls ?? 0;
      const more = await js.call("xds:///echo", 30);
      assert.deepEqual(more.answers, { b1: 30 });
      assert.equal(b2.calls, before, "the ejected backend got calls");
    } finally {
      b2.failing = false;
    }
  });

  it("circuit breaking (A32): calls beyond max requests fail at once with UNAVAILABLE", async () => {
    const [b1] = b as [Backend];
    pilot.writeMesh(meshText([grpcService("echo", [b1], { circuitBreaker: { maxRequests: 2 } })]));
    const a = await until(
      "calls beyond two in flight to be refused",
      js,
      () =>
        js.call("xds:///echo", 8, {
          concurrency: 8,
          staggerMs: 30,
          deadlineMs: 5000,
          metadata: { "x-delay-ms": "800" },
        }),
      (x) => (x.codes?.UNAVAILABLE ?? 0) >= 4,
    );
    assert.ok((a.answers.b1 ?? 0) >= 2 && (a.answers.b1 ?? 0) <= 4, JSON.stringify(a));
    assert.match(a.errors.join("\n"), /UNAVAILABLE/);
  });

  it("locality priorities and failover (A27): traffic stays in the first locality until it empties", async () => {
    const [b1, b2] = b as [Backend, Backend];
    const mesh = (firstHealth: "healthy" | "unhealthy") =>
      meshText([
        grpcService("echo", [b1, b2], { localityFailover: [{ zone: "a" }, { zone: "b" }] }, (_x, i) => ({
          locality: { region: "local", zone: i === 0 ? "a" : "b" },
          ...(i === 0 ? { health: firstHealth } : {}),
        })),
      ]);
    pilot.writeMesh(mesh("healthy"));
    for (const d of [js, go, java]) {
      await until(
        "every call to go to zone a",
        d,
        () => d.call("xds:///echo", 20),
        (a) => a.answers.b1 === 20,
      );
    }
    pilot.writeMesh(mesh("unhealthy"));
    for (const d of [js, go, java]) {
      await until(
        "calls to fail over to zone b",
        d,
        () => d.call("xds:///echo", 20),
        (a) => a.answers.b2 === 20,
      );
    }
  });

  it("nearest locality first: clients in two zones each stay in their own", async () => {
    const [b1, b2] = b as [Backend, Backend];
    pilot.writeMesh(
      meshText([
        grpcService("echo", [b1]),
        grpcService("near", [b1, b2], { localityFailover: "nearest" }, (_x, i) => ({
          locality: { region: "local", zone: i === 0 ? "a" : "b" },
        })),
      ]),
    );
    const inB = client("js", "grpc-js-zone-b", { region: "local", zone: "b" });
    await until(
      "the zone a client to stay in zone a",
      js,
      () => js.call("xds:///near", 20),
      (a) => a.answers.b1 === 20,
    );
    await until(
      "the zone b client to stay in zone b",
      inB,
      () => inB.call("xds:///near", 20),
      (a) => a.answers.b2 === 20,
    );
  });

  it("least request and weighted round robin: grpc-go runs them, grpc-js falls back to round robin", async () => {
    const [b1, b2] = b as [Backend, Backend];
    for (const policy of ["least-request", "weighted-round-robin"] as const) {
      pilot.writeMesh(meshText([grpcService("echo", [b1, b2], { loadBalancer: { policy } })]));
      const go1 = await until(
        `grpc-go to take ${policy} and reach both backends`,
        go,
        async () => {
          // grpc-go makes its xDS client with the first xds:/// channel.
          await go.call("xds:///echo", 1);
          const dump = await go.request<{ csds: unknown }>({ csds: true });
          const text = JSON.stringify(dump.csds);
          const want = policy === "least-request" ? "LeastRequest" : "ClientSideWeightedRoundRobin";
          if (!text.includes(want) || text.includes("NACKED"))
            return {
              answers: {},
              errors: [text.match(/"errorState".{0,400}/)?.[0] ?? text.slice(0, 300)],
              errorCount: 1,
              notAttempted: 0,
            };
          return go.call("xds:///echo", 40);
        },
        (a) => a.errorCount === 0 && (a.answers.b1 ?? 0) > 0 && (a.answers.b2 ?? 0) > 0,
      );
      assert.equal((go1.answers.b1 ?? 0) + (go1.answers.b2 ?? 0), 40);
      await until(
        `grpc-js to keep serving with ${policy} (round robin)`,
        js,
        () => js.call("xds:///echo", 20),
        (a) => a.answers.b1 === 10 && a.answers.b2 === 10,
      );
    }
  });

  it("aggregate and logical DNS clusters (A37): a DNS name as the fallback of an empty service", async () => {
    const [b1, , b3] = b as [Backend, Backend, Backend];
    const mesh = (primary: Backend[]) =>
      meshText([
        grpcService("primary", primary, { port: 9000 }),
        { name: "by-dns", protocol: "grpc", endpoints: [], dns: { host: "localhost", port: b3.port } },
        { name: "agg", protocol: "grpc", port: 9001, endpoints: [], aggregate: ["primary", "by-dns"] },
      ]);
    pilot.writeMesh(mesh([]));
    await until(
      "calls to the aggregate to reach the DNS name",
      js,
      () => js.call("xds:///agg", 10),
      (a) => a.answers.b3 === 10,
    );
    await until(
      "calls to the DNS service itself",
      js,
      () => js.call("xds:///by-dns", 5),
      (a) => a.answers.b3 === 5,
    );
    pilot.writeMesh(mesh([b1]));
    await until(
      "the aggregate to prefer the primary once it has an endpoint",
      js,
      () => js.call("xds:///agg", 10),
      (a) => a.answers.b1 === 10,
    );
  });
});
