import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TypeUrl, XdsError, packAny, unpackHttpConnectionManager } from "@xdskit/xds-types";
import { HttpConnectionManagerSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb";
import { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { createSnapshotRegistry } from "./index.js";
import { apiListener, cla, edsCluster, weightedRoute, world } from "./testing/fixtures.js";
import type { WatchResponse } from "./types.js";

const CDS = TypeUrl.Cluster;
const EDS = TypeUrl.ClusterLoadAssignment;
const LDS = TypeUrl.Listener;
const RDS = TypeUrl.RouteConfiguration;

const flush = () => new Promise((resolve) => setImmediate(resolve));

function collect() {
  const got: WatchResponse[] = [];
  return { got, cb: (r: WatchResponse) => got.push(r) };
}

describe("versions", () => {
  it("derives the same versions from the same input in two registries", () => {
    const a = createSnapshotRegistry().setSnapshot("g", world(5));
    const b = createSnapshotRegistry().setSnapshot("other", world(5));
    for (const t of [CDS, EDS, LDS, RDS]) {
      assert.equal(a.get(t)?.version, b.get(t)?.version);
      for (const [name, r] of a.get(t)?.resources ?? [])
        assert.equal(b.get(t)?.resources.get(name)?.version, r.version);
    }
  });

  it("does not depend on the order resources are given in", () => {
    const r = createSnapshotRegistry();
    const v1 = r.setSnapshot("a", { [CDS]: [edsCluster("x"), edsCluster("y")] }).get(CDS)?.version;
    const v2 = r.setSnapshot("b", { [CDS]: [edsCluster("y"), edsCluster("x")] }).get(CDS)?.version;
    assert.equal(v1, v2);
  });

  it("changes a resource's version only when its content changes", () => {
    const r = createSnapshotRegistry();
    const s1 = r.setSnapshot("g", { [CDS]: [edsCluster("x"), edsCluster("y")] });
    const s2 = r.setSnapshot("g", { [CDS]: [edsCluster("x"), edsCluster("y", { connectTimeoutSeconds: 9 })] });
    assert.equal(s1.get(CDS)?.resources.get("x")?.version, s2.get(CDS)?.resources.get("x")?.version);
    assert.notEqual(s1.get(CDS)?.resources.get("y")?.version, s2.get(CDS)?.resources.get("y")?.version);
    assert.notEqual(s1.get(CDS)?.version, s2.get(CDS)?.version);
    // Unchanged resources keep their encoded object, so their bytes are not rebuilt.
    assert.equal(s1.get(CDS)?.resources.get("x"), s2.get(CDS)?.resources.get("x"));
  });

  it("uses versions the host gives, per type and per resource", () => {
    const r = createSnapshotRegistry();
    const s = r.setSnapshot("g", {
      [CDS]: { version: "v42", resources: [{ resource: edsCluster("x"), version: "x-1" }] },
    });
    assert.equal(s.get(CDS)?.version, "v42");
    assert.equal(s.get(CDS)?.resources.get("x")?.version, "x-1");
  });

  it("keeps the type version of updateResources consistent with setSnapshot of the same set", () => {
    const r = createSnapshotRegistry();
    r.setSnapshot("g", { [EDS]: [cla("a"), cla("b")] });
    const viaUpdate = r.updateResources("g", EDS, { upsert: [cla("c")], remove: ["a"] });
    const direct = createSnapshotRegistry()
      .setSnapshot("g", { [EDS]: [cla("b"), cla("c")] })
      .get(EDS);
    assert.equal(viaUpdate.version, direct?.version);
  });

  it("encodes the Any once: anyBytes carry the type URL and the message", () => {
    const s = createSnapshotRegistry().setSnapshot("g", { [CDS]: [edsCluster("x")] });
    const bytes = s.get(CDS)?.resources.get("x")?.anyBytes;
    assert.ok(bytes && Buffer.from(bytes).includes(Buffer.from(CDS)));
  });
});

describe("node groups", () => {
  it("defaults to the node id", () => {
    const r = createSnapshotRegistry();
    assert.equal(
      r.nodeGroup(create(NodeSchema, { id: "sidecar~10.0.0.1~a.b~b.svc", cluster: "c" })),
      "sidecar~10.0.0.1~a.b~b.svc",
    );
  });

  it("uses the host's function so many nodes share one snapshot", () => {
    const r = createSnapshotRegistry({ nodeGroup: (n) => n.cluster || "default" });
    r.setSnapshot("frontend", world(1));
    const g1 = r.nodeGroup(create(NodeSchema, { id: "pod-1", cluster: "frontend" }));
    const g2 = r.nodeGroup(create(NodeSchema, { id: "pod-2", cluster: "frontend" }));
    assert.equal(g1, "frontend");
    assert.equal(r.getSnapshot(g1), r.getSnapshot(g2));
    assert.deepEqual(r.nodeGroups(), ["frontend"]);
  });
});

describe("consistency", () => {
  const broken = {
    [LDS]: [apiListener("l1", "missing-route")],
    [RDS]: [
      weightedRoute("r1", "r1", [
        ["c1", 50],
        ["ghost", 50],
      ]),
    ],
    [CDS]: [edsCluster("c1"), edsCluster("c2")],
    [EDS]: [cla("c1")],
  };

  it("lists each dangling name", () => {
    const r = createSnapshotRegistry();
    r.setSnapshot("g", broken);
    const issues = r.checkConsistency("g");
    const msgs = issues.map((i) => i.message).sort();
    assert.equal(issues.length, 3, msgs.join("\n"));
    assert.ok(msgs.some((m) => m.includes('LDS "l1"') && m.includes('RDS "missing-route"')));
    assert.ok(msgs.some((m) => m.includes('RDS "r1"') && m.includes('CDS "ghost"')));
    assert.ok(msgs.some((m) => m.includes('CDS "c2"') && m.includes('EDS "c2"')));
  });

  it("finds nothing wrong in a complete world", () => {
    const r = createSnapshotRegistry();
    r.setSnapshot("g", world(10));
    assert.deepEqual(r.checkConsistency("g"), []);
  });

  it("rejects an inconsistent snapshot when enforced, keeping the previous one served", () => {
    const r = createSnapshotRegistry({ consistent: true });
    const good = r.setSnapshot("g", world(2));
    const failures: Error[] = [];
    r.on("validationFailed", (e) => failures.push(e.error));
    assert.throws(
      () => r.setSnapshot("g", broken),
      (e: unknown) => e instanceof XdsError && e.code === "inconsistent_snapshot" && e.message.includes('"ghost"'),
    );
    assert.equal(r.getSnapshot("g"), good);
    assert.equal(failures.length, 1);
  });

  it("rejects an update that leaves a dangling reference when enforced", () => {
    const r = createSnapshotRegistry({ consistent: true });
    r.setSnapshot("g", world(2));
    assert.throws(
      () => r.updateResources("g", EDS, { remove: ["svc-0"] }),
      (e: unknown) => e instanceof XdsError && e.code === "inconsistent_snapshot",
    );
    assert.ok(r.getSnapshot("g")?.get(EDS)?.resources.has("svc-0"));
  });

  it("accepts a new cluster, its endpoints and the route using it in one update when enforced", () => {
    const r = createSnapshotRegistry({ consistent: true });
    r.setSnapshot("g", world(1));
    // One type at a time, the route would dangle; together they are consistent.
    const route = weightedRoute("svc-0", "svc-0", [
      ["svc-0", 50],
      ["new", 50],
    ]);
    assert.throws(() => r.updateResources("g", RDS, { upsert: [route] }), /"new"/);
    const snap = r.updateSnapshot("g", {
      [RDS]: { upsert: [route] },
      [CDS]: { upsert: [edsCluster("new")] },
      [EDS]: { upsert: [cla("new")] },
    });
    assert.equal(r.getSnapshot("g"), snap);
    assert.ok(snap.get(CDS)?.resources.has("new"));
    assert.deepEqual(r.checkConsistency("g"), []);
  });
});

describe("updateSnapshot", () => {
  it("installs every type or none: a bad resource in one type leaves all of them as they were", () => {
    const r = createSnapshotRegistry();
    const good = r.setSnapshot("g", world(2));
    const failures: { typeUrl?: string; message: string }[] = [];
    r.on("validationFailed", (e) =>
      failures.push({ ...(e.typeUrl ? { typeUrl: e.typeUrl } : {}), message: e.error.message }),
    );
    const badListener = apiListener("l");
    delete (badListener as { apiListener?: unknown }).apiListener;
    assert.throws(
      () =>
        r.updateSnapshot("g", {
          [CDS]: { upsert: [edsCluster("svc-9")] },
          [LDS]: { upsert: [badListener] },
        }),
      (e: unknown) => e instanceof XdsError && e.code === "invalid_resource" && /LDS "l" is invalid/.test(e.message),
    );
    assert.equal(r.getSnapshot("g"), good);
    assert.equal(r.getSnapshot("g")?.get(CDS)?.resources.has("svc-9"), false);
    assert.deepEqual(
      failures.map((f) => f.typeUrl),
      [LDS],
    );
  });

  it("fires the watchers of every changed type in one go, and only of those", async () => {
    const r = createSnapshotRegistry();
    r.setSnapshot("g", world(2));
    const order: string[] = [];
    const watchAll = () => {
      for (const t of [CDS, EDS, LDS, RDS]) {
        const v = r.getSnapshot("g")?.get(t)?.version;
        r.watch(
          {
            nodeGroup: "g",
            typeUrl: t,
            wildcard: true,
            resourceNames: new Set(),
            ...(v ? { knownVersion: v } : {}),
          },
          (resp) => order.push(resp.typeUrl),
        );
      }
    };
    watchAll();
    await flush();
    assert.deepEqual(order, [], "up-to-date watchers wait");
    const events: string[] = [];
    r.on("resourcesUpdated", (e) => events.push(`${e.typeUrl}:${e.upserted.join()}:${e.removed.join()}`));
    r.updateSnapshot("g", {
      [EDS]: { upsert: [cla("svc-0", 5)] },
      [CDS]: { upsert: [edsCluster("svc-2")] },
      [LDS]: { upsert: [], remove: [] },
    });
    // Fired synchronously, together; LDS did not change and stays parked.
    assert.deepEqual(order.sort(), [CDS, EDS].sort());
    assert.deepEqual(events.sort(), [`${CDS}:svc-2:`, `${EDS}:svc-0:`].sort());
  });

  it("returns the same snapshot and fires nothing when nothing changes", () => {
    const r = createSnapshotRegistry();
    const s = r.setSnapshot("g", world(2));
    let events = 0;
    r.on("resourcesUpdated", () => events++);
    const same = s.get(EDS)?.resources.get("svc-0")?.message;
    assert.ok(same);
    assert.equal(r.updateSnapshot("g", { [EDS]: { upsert: [same] }, [CDS]: {} }), s);
    assert.equal(events, 0);
  });

  it("refuses a missing node group, an unknown type and an update that is not an object", () => {
    const r = createSnapshotRegistry();
    assert.throws(() => r.updateSnapshot("", { [CDS]: {} }), /needs a non-empty node group/);
    assert.throws(() => r.updateSnapshot("g", { "type.googleapis.com/acme.Widget": {} }), /acme.Widget/);
    assert.throws(
      () => r.updateSnapshot("g", { [CDS]: null as never }),
      /CDS: expected an update \(\{ upsert\?, remove\? \}\), got null/,
    );
    assert.equal(r.getSnapshot("g"), undefined);
  });
});

describe("bad input", () => {
  function rejects(
    input: Parameters<ReturnType<typeof createSnapshotRegistry>["setSnapshot"]>[1],
    code: string,
    needle: RegExp,
  ) {
    const r = createSnapshotRegistry();
    const good = r.setSnapshot("g", world(1));
    assert.throws(
      () => r.setSnapshot("g", input),
      (e: unknown) => e instanceof XdsError && e.code === code && needle.test(e.message),
    );
    assert.equal(r.getSnapshot("g"), good, "the previous snapshot must stay served");
  }

  it("a resource without a name", () =>
    rejects({ [CDS]: [edsCluster("")] }, "invalid_resource", /node group "g", CDS.*no name/));
  it("a name twice within a type", () =>
    rejects({ [CDS]: [edsCluster("a"), edsCluster("a")] }, "duplicate_resource", /CDS: the name "a" appears twice/));
  it("the wrong message for the type URL", () =>
    rejects({ [LDS]: [edsCluster("a")] }, "type_mismatch", /envoy.config.cluster.v3.Cluster was given for .*Listener/));
  it("an unknown type URL", () =>
    rejects({ "type.googleapis.com/acme.Widget": [] }, "unknown_type_url", /acme.Widget/));
  it("an EDS cluster without eds_cluster_config", () => {
    const c = edsCluster("c");
    delete (c as { edsClusterConfig?: unknown }).edsClusterConfig;
    rejects({ [CDS]: [c] }, "invalid_resource", /CDS "c" is invalid: .*eds_cluster_config/);
  });
  it("a listener with neither address nor api_listener", () => {
    const l = apiListener("l");
    delete (l as { apiListener?: unknown }).apiListener;
    rejects({ [LDS]: [l] }, "invalid_resource", /LDS "l" is invalid: .*address or an api_listener/);
  });
  it("a route without an action", () => {
    const rc = weightedRoute("r", "r", [["c", 1]]);
    const route = rc.virtualHosts[0]?.routes[0];
    if (route) route.action = { case: undefined };
    rejects({ [RDS]: [rc] }, "invalid_resource", /RDS "r" is invalid: .*routes\[0\] has no action/);
  });
  it("an EDS endpoint whose address is not an IP", () => {
    const c = cla("svc-0");
    const ep = c.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
    if (ep?.case === "endpoint" && ep.value.address?.address.case === "socketAddress")
      ep.value.address.address.value.address = "not an ip";
    rejects(
      { [EDS]: [c] },
      "invalid_resource",
      /EDS "svc-0" is invalid: endpoints\[0\]\.lb_endpoints\[0\]\.endpoint\.address\.socket_address\.address: "not an ip" is not an IP address/,
    );
  });
  it("a resource protobuf-es cannot encode, among many written ahead together, is named", () => {
    const clusters = Array.from({ length: 40 }, (_, i) => edsCluster(`c-${i}`));
    // Text where an enum's number belongs: only the encoder notices.
    (clusters[17] as unknown as { lbPolicy: unknown }).lbPolicy = "x";
    rejects({ [CDS]: clusters }, "encode_failed", /CDS "c-17": cannot encode/);
  });
  it("EDS endpoint addresses: IPv4 and IPv6 pass, near-IPs do not", () => {
    const withAddress = (address: string) => {
      const c = cla("svc-0");
      const ep = c.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
      if (ep?.case === "endpoint" && ep.value.address?.address.case === "socketAddress")
        ep.value.address.address.value.address = address;
      return c;
    };
    for (const ok of ["10.0.0.1", "0.0.0.0", "255.255.255.255", "::1", "fd00::10"]) {
      createSnapshotRegistry().setSnapshot("g", { [EDS]: [withAddress(ok)] });
    }
    for (const bad of ["256.0.0.1", "10.0.0", "10.0.0.1.2", "010.0.0.1", "10..0.1", "10.0.0.1 "]) {
      rejects({ [EDS]: [withAddress(bad)] }, "invalid_resource", /is not an IP address/);
    }
  });
  it("a broken protoc-gen-validate rule, named by its field path", () => {
    const c = cla("svc-0", 1, 70_000);
    rejects(
      { [EDS]: [c] },
      "invalid_resource",
      /EDS "svc-0" is invalid: endpoints\[0\]\.lb_endpoints\[0\]\.endpoint\.address\.socket_address\.port_value: must be at most 65535/,
    );
  });
  it("a broken rule inside the HTTP connection manager of a listener", () => {
    const l = apiListener("l", "r");
    const hcm = l.apiListener?.apiListener;
    assert.ok(hcm);
    const decoded = unpackHttpConnectionManager(hcm);
    decoded.statPrefix = "";
    if (l.apiListener) l.apiListener.apiListener = packAny(HttpConnectionManagerSchema, decoded);
    rejects(
      { [LDS]: [l] },
      "invalid_resource",
      /LDS "l" is invalid: api_listener\.api_listener\(envoy\.extensions\.filters\.network\.http_connection_manager\.v3\.HttpConnectionManager\)\.stat_prefix: must be at least 1 characters long/,
    );
  });
  it("rules can be turned off", () => {
    const r = createSnapshotRegistry({ protoRules: false });
    assert.ok(
      r
        .setSnapshot("g", { [EDS]: [cla("svc-0", 1, 70_000)] })
        .get(EDS)
        ?.resources.has("svc-0"),
    );
  });
  it("a host rule", () => {
    const r = createSnapshotRegistry({
      validate: (_t, m) => ((m as { name?: string }).name === "forbidden" ? ["name is reserved"] : []),
    });
    assert.throws(
      () => r.setSnapshot("g", { [CDS]: [edsCluster("forbidden")] }),
      /CDS "forbidden" is invalid: name is reserved/,
    );
  });
  it("content checked once is not walked again, but the host's rule always runs and bad content stays refused", () => {
    let hostCalls = 0;
    let forbid = false;
    const r = createSnapshotRegistry({
      validate: () => {
        hostCalls++;
        return forbid ? ["closed for maintenance"] : [];
      },
    });
    r.setSnapshot("a", { [EDS]: [cla("x")] });
    r.setSnapshot("b", { [EDS]: [cla("x")] });
    assert.equal(hostCalls, 2);
    forbid = true;
    assert.throws(() => r.setSnapshot("c", { [EDS]: [cla("x")] }), /closed for maintenance/);
    forbid = false;
    const bad = cla("y", 1, 70_000);
    for (const g of ["d", "e"])
      assert.throws(() => r.setSnapshot(g, { [EDS]: [bad] }), /port_value: must be at most 65535/);
  });
  it("an invalid per-resource update leaves the type untouched", () => {
    const r = createSnapshotRegistry();
    const before = r.setSnapshot("g", world(1)).get(EDS);
    assert.throws(() => r.updateResources("g", EDS, { upsert: [cla("x"), cla("x")] }), /appears twice/);
    assert.throws(
      () => r.updateResources("g", EDS, { upsert: [cla("y")], remove: ["y"] }),
      /both upserted and removed/,
    );
    assert.equal(r.getSnapshot("g")?.get(EDS), before);
  });
});

describe("watches", () => {
  it("parks until a snapshot exists, then fires once", () => {
    const r = createSnapshotRegistry();
    const { got, cb } = collect();
    r.watch({ nodeGroup: "g", typeUrl: CDS, wildcard: true, resourceNames: new Set() }, cb);
    assert.equal(got.length, 0);
    assert.equal(r.watchCount(), 1);
    r.setSnapshot("g", world(3));
    assert.equal(got.length, 1);
    assert.equal(got[0]?.resources.length, 3);
    assert.equal(r.watchCount(), 0);
    r.setSnapshot("g", world(4));
    assert.equal(got.length, 1, "a one-shot watch fires once");
  });

  it("answers right away (on a microtask) when the client lacks something", async () => {
    const r = createSnapshotRegistry();
    r.setSnapshot("g", world(2));
    const { got, cb } = collect();
    r.watch({ nodeGroup: "g", typeUrl: LDS, wildcard: true, resourceNames: new Set() }, cb);
    await flush();
    assert.equal(got.length, 1);
    assert.equal(r.watchCount(), 0);
  });

  it("an immediate answer can still be cancelled before it is delivered", async () => {
    const r = createSnapshotRegistry();
    r.setSnapshot("g", world(2));
    const { got, cb } = collect();
    const cancel = r.watch({ nodeGroup: "g", typeUrl: LDS, wildcard: true, resourceNames: new Set() }, cb);
    cancel();
    await flush();
    assert.equal(got.length, 0);
    assert.equal(r.watchCount(), 0);
  });

  it("stays parked while the client has the current version, and not fired by no-op updates", () => {
    const r = createSnapshotRegistry();
    const s = r.setSnapshot("g", world(2));
    const { got, cb } = collect();
    r.watch(
      {
        nodeGroup: "g",
        typeUrl: CDS,
        wildcard: true,
        resourceNames: new Set(),
        knownVersion: s.get(CDS)?.version ?? "",
      },
      cb,
    );
    r.setSnapshot("g", world(2));
    r.updateResources("g", CDS, { upsert: [edsCluster("svc-0")] });
    r.updateResources("g", CDS, { remove: ["nope"] });
    assert.equal(got.length, 0);
    r.updateResources("g", CDS, { upsert: [edsCluster("svc-9")] });
    assert.equal(got.length, 1);
    assert.equal(got[0]?.resources.length, 3, "full-state types get every subscribed resource");
  });

  it("sends only changed resources of non-full-state types", () => {
    const r = createSnapshotRegistry();
    const s = r.setSnapshot("g", world(3));
    const known = new Map([...(s.get(EDS)?.resources ?? [])].map(([n, res]) => [n, res.version]));
    const { got, cb } = collect();
    r.watch(
      { nodeGroup: "g", typeUrl: EDS, wildcard: false, resourceNames: new Set(known.keys()), knownVersions: known },
      cb,
    );
    assert.equal(got.length, 0);
    r.updateResources("g", EDS, { upsert: [cla("svc-1", 2)] });
    assert.equal(got.length, 1);
    assert.deepEqual(
      got[0]?.resources.map((x) => x.name),
      ["svc-1"],
    );
    assert.equal(got[0]?.versions.size, 3);
  });

  it("named watches ignore other names and fire when a requested name appears", () => {
    const r = createSnapshotRegistry();
    r.setSnapshot("g", { [EDS]: [cla("a")] });
    const { got, cb } = collect();
    r.watch({ nodeGroup: "g", typeUrl: EDS, wildcard: false, resourceNames: new Set(["b"]) }, cb);
    assert.equal(got.length, 0);
    r.updateResources("g", EDS, { upsert: [cla("c")] });
    assert.equal(got.length, 0);
    r.updateResources("g", EDS, { upsert: [cla("b")] });
    assert.deepEqual(
      got[0]?.resources.map((x) => x.name),
      ["b"],
    );
  });

  it("wildcard watches see every resource, named ones only theirs", async () => {
    const r = createSnapshotRegistry();
    r.setSnapshot("g", world(4));
    const wild = collect();
    const named = collect();
    r.watch({ nodeGroup: "g", typeUrl: CDS, wildcard: true, resourceNames: new Set() }, wild.cb);
    r.watch({ nodeGroup: "g", typeUrl: CDS, wildcard: false, resourceNames: new Set(["svc-1", "svc-3"]) }, named.cb);
    await flush();
    assert.equal(wild.got[0]?.resources.length, 4);
    assert.deepEqual(named.got[0]?.resources.map((x) => x.name).sort(), ["svc-1", "svc-3"]);
  });

  it("reports removals to full-state and delta watchers", () => {
    const r = createSnapshotRegistry();
    const s = r.setSnapshot("g", world(2));
    const known = new Map([...(s.get(CDS)?.resources ?? [])].map(([n, res]) => [n, res.version]));
    const sotw = collect();
    const delta = collect();
    r.watch({ nodeGroup: "g", typeUrl: CDS, wildcard: true, resourceNames: new Set(), knownVersions: known }, sotw.cb);
    r.watch(
      { nodeGroup: "g", typeUrl: CDS, wildcard: true, resourceNames: new Set(), knownVersions: known, mode: "delta" },
      delta.cb,
    );
    r.updateResources("g", CDS, { remove: ["svc-0"] });
    assert.deepEqual(
      sotw.got[0]?.resources.map((x) => x.name),
      ["svc-1"],
    );
    assert.deepEqual(sotw.got[0]?.removed, ["svc-0"]);
    assert.deepEqual(delta.got[0]?.resources, []);
    assert.deepEqual(delta.got[0]?.removed, ["svc-0"]);
  });

  it("clearSnapshot tells watchers everything is gone", () => {
    const r = createSnapshotRegistry();
    const s = r.setSnapshot("g", world(2));
    const known = new Map([...(s.get(LDS)?.resources ?? [])].map(([n, res]) => [n, res.version]));
    const { got, cb } = collect();
    r.watch({ nodeGroup: "g", typeUrl: LDS, wildcard: true, resourceNames: new Set(), knownVersions: known }, cb);
    r.clearSnapshot("g");
    assert.deepEqual(got[0]?.resources, []);
    assert.deepEqual([...(got[0]?.removed ?? [])].sort(), ["svc-0", "svc-1"]);
    assert.equal(r.getSnapshot("g"), undefined);
  });

  it("cancel is idempotent, and a watch cancelled during a fire is not called", () => {
    const r = createSnapshotRegistry();
    const calls: string[] = [];
    let cancelB = () => {};
    r.watch({ nodeGroup: "g", typeUrl: CDS, wildcard: true, resourceNames: new Set() }, () => {
      calls.push("a");
      cancelB();
    });
    cancelB = r.watch({ nodeGroup: "g", typeUrl: CDS, wildcard: true, resourceNames: new Set() }, () =>
      calls.push("b"),
    );
    const cancelC = r.watch({ nodeGroup: "g", typeUrl: CDS, wildcard: true, resourceNames: new Set() }, () =>
      calls.push("c"),
    );
    cancelC();
    cancelC();
    assert.equal(r.watchCount(), 2);
    r.setSnapshot("g", world(1));
    assert.deepEqual(calls, ["a"]);
    assert.equal(r.watchCount(), 0);
  });

  it("a throwing callback does not stop other watchers", () => {
    const r = createSnapshotRegistry();
    const { got, cb } = collect();
    r.watch({ nodeGroup: "g", typeUrl: CDS, wildcard: true, resourceNames: new Set() }, () => {
      throw new Error("host bug");
    });
    r.watch({ nodeGroup: "g", typeUrl: CDS, wildcard: true, resourceNames: new Set() }, cb);
    r.setSnapshot("g", world(1));
    assert.equal(got.length, 1);
  });

  it("watchers asking the same thing share one response (and so one body)", () => {
    const r = createSnapshotRegistry();
    const a = collect();
    const b = collect();
    r.watch({ nodeGroup: "g", typeUrl: CDS, wildcard: false, resourceNames: new Set(["svc-0", "svc-1"]) }, a.cb);
    r.watch({ nodeGroup: "g", typeUrl: CDS, wildcard: false, resourceNames: new Set(["svc-0", "svc-1"]) }, b.cb);
    r.setSnapshot("g", world(3));
    assert.equal(a.got[0]?.resources, b.got[0]?.resources);
  });

  it("watchers arriving one by one after a snapshot share one response too (a reconnecting fleet)", async () => {
    const r = createSnapshotRegistry();
    r.setSnapshot("g", world(3));
    const got: WatchResponse[] = [];
    for (let i = 0; i < 5; i++) {
      const c = collect();
      const req = { nodeGroup: "g", typeUrl: EDS, wildcard: false, resourceNames: new Set(["svc-0", "svc-2"]) };
      r.watch(req, c.cb);
      await flush();
      assert.equal(c.got.length, 1);
      const resp = c.got[0] as WatchResponse;
      got.push(resp);
      // Each client re-arms with what it got, as a stream does, and so holds the subscription.
      r.watch({ ...req, knownVersions: resp.versions }, () => {});
    }
    for (const resp of got) assert.equal(resp, got[0]);
    // A different subscription, or a new snapshot, is answered afresh.
    const other = collect();
    r.watch({ nodeGroup: "g", typeUrl: EDS, wildcard: false, resourceNames: new Set(["svc-1"]) }, other.cb);
    r.setSnapshot("g", world(4));
    const after = collect();
    r.watch({ nodeGroup: "g", typeUrl: EDS, wildcard: false, resourceNames: new Set(["svc-0", "svc-2"]) }, after.cb);
    await flush();
    assert.deepEqual(
      other.got[0]?.resources.map((x) => x.name),
      ["svc-1"],
    );
    assert.notEqual(after.got[0], got[0]);
    assert.deepEqual(
      after.got[0]?.resources.map((x) => x.name),
      ["svc-0", "svc-2"],
    );
  });

  it("answers a stream's own known versions without caching them for others", async () => {
    const r = createSnapshotRegistry();
    r.setSnapshot("g", world(3));
    const names = new Set(["svc-0", "svc-1"]);
    const svc0 = r.getSnapshot("g")?.get(EDS)?.resources.get("svc-0")?.version ?? "";
    const a = collect();
    r.watch(
      {
        nodeGroup: "g",
        typeUrl: EDS,
        wildcard: false,
        resourceNames: names,
        knownVersions: new Map([["svc-0", svc0]]),
      },
      a.cb,
    );
    const b = collect();
    r.watch({ nodeGroup: "g", typeUrl: EDS, wildcard: false, resourceNames: names, knownVersions: new Map() }, b.cb);
    await flush();
    assert.deepEqual(
      a.got[0]?.resources.map((x) => x.name),
      ["svc-1"],
    );
    assert.deepEqual(
      b.got[0]?.resources.map((x) => x.name),
      ["svc-0", "svc-1"],
    );
  });

  it("emits typed events", () => {
    const r = createSnapshotRegistry();
    const seen: string[] = [];
    r.on("snapshotSet", (e) => seen.push(`set:${e.nodeGroup}:${e.versions.size}`));
    r.on("resourcesUpdated", (e) => seen.push(`upd:${e.upserted.join()}:${e.removed.join()}`));
    r.on("snapshotCleared", (e) => seen.push(`clear:${e.nodeGroup}`));
    r.setSnapshot("g", world(1));
    r.updateResources("g", EDS, { upsert: [cla("svc-0", 3)] });
    r.updateResources("g", EDS, { upsert: [cla("svc-0", 3)] });
    r.clearSnapshot("g");
    assert.deepEqual(seen, ["set:g:4", "upd:svc-0:", "clear:g"]);
  });
});
