import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { DefaultConfigGenerator } from "./generator.js";
import type { Service } from "./model.js";
import { proxyFromNode } from "./proxy.js";
import { PushContext } from "./push-context.js";

const svc = (name: string, ip: string, port: number, protocol: Service["protocol"] = "http"): Service => ({
  name,
  port,
  protocol,
  endpoints: [{ address: ip, port }],
});
const sidecar = proxyFromNode(create(NodeSchema, { id: "sidecar~10.0.0.1~a.default~default.svc.cluster.local" }));

describe("a sidecar's workload key across pushes", () => {
  it("is the inbound plan's key, kept while its inputs are the same objects and recomputed when one changes", () => {
    const gen = new DefaultConfigGenerator();
    const mine = svc("mine", "10.0.0.1", 8080);
    const other = svc("other", "10.0.0.2", 9090);
    const first = gen.workloadKey(sidecar, new PushContext([mine, other], []));
    assert.equal(first, "sidecar:8080");
    // Another service changed: the same key (and the same answer a fresh generator gives).
    const moved = { ...other, endpoints: [{ address: "10.0.0.3", port: 9090 }] };
    assert.equal(gen.workloadKey(sidecar, new PushContext([mine, moved], [])), first);
    assert.equal(new DefaultConfigGenerator().workloadKey(sidecar, new PushContext([mine, moved], [])), first);
    // A service on the sidecar's IP changed its port: a new key.
    const renumbered = svc("mine", "10.0.0.1", 8081);
    assert.equal(gen.workloadKey(sidecar, new PushContext([renumbered, moved], [])), "sidecar:8081");
    // A second service lands on the IP: both ports.
    const added = svc("added", "10.0.0.1", 7070, "tcp");
    assert.equal(gen.workloadKey(sidecar, new PushContext([renumbered, moved, added], [])), "sidecar:7070,8081");
    // Mutual TLS in the mesh: computed from the policies, not the memo.
    const secure = new PushContext([renumbered, moved, added], [], [], [], {}, new Map(), {
      mtls: { trustDomain: "cluster.local" },
    });
    assert.notEqual(gen.workloadKey(sidecar, secure), "sidecar:7070,8081");
    assert.equal(gen.workloadKey(sidecar, secure), new DefaultConfigGenerator().workloadKey(sidecar, secure));
  });

  it("a subclass's inbound ports are asked every time", () => {
    let asked = 0;
    class Counting extends DefaultConfigGenerator {
      protected override inboundPorts(): number[] {
        asked++;
        return [asked];
      }
    }
    const gen = new Counting();
    const push = new PushContext([svc("mine", "10.0.0.1", 8080)], []);
    assert.equal(gen.workloadKey(sidecar, push), "sidecar:1");
    assert.equal(gen.workloadKey(sidecar, push), "sidecar:2");
  });
});
