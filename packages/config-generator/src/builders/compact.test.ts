import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { clone, create, equals, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { ClusterSchema } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import { HealthCheckSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/health_check_pb";
import { ListenerSchema } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import { RouterSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/http/router/v3/router_pb";
import { compactMessage } from "./compact.js";
import { deepFreeze } from "./memo.js";

/** A cluster with nested messages, lists, a map, set and unset oneofs and an Any. */
function richCluster() {
  return create(ClusterSchema, {
    name: "outbound|8080||svc-1.ns.svc.cluster.local",
    clusterDiscoveryType: { case: "type", value: 3 },
    edsClusterConfig: { serviceName: "svc-1", edsConfig: { configSourceSpecifier: { case: "ads", value: {} } } },
    connectTimeout: { seconds: 2n, nanos: 5 },
    circuitBreakers: { thresholds: [{ maxRequests: 7 }, { priority: 1 }] },
    metadata: { filterMetadata: { istio: { fields: { name: { kind: { case: "stringValue", value: "svc-1" } } } } } },
    typedExtensionProtocolOptions: {
      "envoy.filters.http.router": anyPack(RouterSchema, create(RouterSchema, { suppressEnvoyHeaders: true })),
    },
  });
}

describe("compact messages", () => {
  it("copies a message so that it equals the original and encodes to the same bytes", () => {
    const m = richCluster();
    const c = compactMessage(ClusterSchema, m);
    assert.notEqual(c, m);
    assert.ok(equals(ClusterSchema, c, m));
    assert.deepEqual(toBinary(ClusterSchema, c), toBinary(ClusterSchema, m));
    // The same own fields as protobuf-es's message: unset ones stay absent.
    assert.deepStrictEqual(c, m);
    assert.equal("loadAssignment" in c, false);
    // A clone of a compact message is an ordinary protobuf-es message again, free to change.
    const mine = clone(ClusterSchema, c);
    mine.healthChecks.push(create(HealthCheckSchema, {}));
    assert.equal(mine.healthChecks.length, 1);
    assert.equal(c.healthChecks.length, 0);
  });

  it("shares one frozen empty list, map and unset oneof between compacted messages", () => {
    const a = deepFreeze(compactMessage(ListenerSchema, create(ListenerSchema, { name: "a" })));
    const b = deepFreeze(compactMessage(ListenerSchema, create(ListenerSchema, { name: "b" })));
    assert.equal(a.filterChains, b.filterChains);
    assert.equal(a.metadata, undefined);
    assert.equal(a.listenerSpecifier, b.listenerSpecifier);
    assert.equal(Object.isFrozen(a.filterChains), true);
    assert.throws(() => (a.filterChains as unknown[]).push(1), TypeError);
  });

  it("leaves alone what it cannot copy as plainly: another type, unknown fields, a prototype chain", () => {
    const cluster = richCluster();
    assert.equal(compactMessage(ListenerSchema, cluster as never), cluster);
    const withUnknown = {
      ...create(ListenerSchema, { name: "u" }),
      $unknown: [{ no: 999, wireType: 0, data: new Uint8Array([1]) }],
    };
    assert.equal(compactMessage(ListenerSchema, withUnknown), withUnknown);
    const derived = Object.create(create(ListenerSchema, { name: "p" }));
    assert.equal(compactMessage(ListenerSchema, derived), derived);
  });

  /** Runs `body` in a Node process with `flags`, the module beside this test imported as `compactMessage`; returns its JSON. */
  function inChild(flags: string[], body: string): unknown {
    // Its TypeScript source under the test runner (tsx), or the built file.
    const self = fileURLToPath(import.meta.url);
    const here = path.dirname(self);
    const source = self.endsWith(".ts");
    const target = path.join(here, source ? "compact.ts" : "compact.js");
    const script = `
      const { create } = await import("@bufbuild/protobuf");
      const { ClusterSchema } = await import("@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb");
      const { ListenerSchema } = await import("@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb");
      const { compactMessage } = await import(${JSON.stringify(target)});
      ${body}`;
    const args = [...(source ? ["--import", "tsx"] : []), ...flags, "--input-type=module", "-e", script];
    return JSON.parse(execFileSync(process.execPath, args, { cwd: here, encoding: "utf8" }));
  }

  it("gives V8 fast objects where protobuf-es's Listener and Cluster are hash tables", () => {
    // V8 tells this only to a process started with --allow-natives-syntax.
    const out = inChild(
      ["--allow-natives-syntax"],
      `const fast = (o) => eval("%HasFastProperties(o)");
      // A listener with an address (as every built one has), a cluster with its name.
      const made = [
        ["listener", ListenerSchema, create(ListenerSchema, { name: "l", address: { address: { case: "socketAddress", value: { address: "10.0.0.1" } } } })],
        ["cluster", ClusterSchema, create(ClusterSchema, { name: "c" })],
      ];
      const out = {};
      for (const [n, s, m] of made) out[n] = { created: fast(m), compacted: fast(compactMessage(s, m)) };
      console.log(JSON.stringify(out));`,
    );
    assert.deepEqual(out, {
      listener: { created: false, compacted: true },
      cluster: { created: false, compacted: true },
    });
  });

  it("hands messages on as they are in a process that forbids code generation from strings", () => {
    const out = inChild(
      ["--disallow-code-generation-from-strings"],
      `const m = create(ListenerSchema, { name: "x" });
      console.log(JSON.stringify({ same: compactMessage(ListenerSchema, m) === m }));`,
    );
    assert.deepEqual(out, { same: true });
  });
});
