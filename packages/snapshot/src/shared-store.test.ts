// Identical content is held once, however many groups hold it; composed
// groups share their parts' type snapshots (and so responses); everything is
// released when the last holder goes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TypeUrl, XdsError } from "@xdskit/xds-types";
import { createSnapshotRegistry } from "./index.js";
import { cla, edsCluster, world } from "./testing/fixtures.js";
import type { WatchResponse } from "./types.js";

const CDS = TypeUrl.Cluster;
const EDS = TypeUrl.ClusterLoadAssignment;
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("content-addressed store", () => {
  it("holds identical content once across node groups, and releases it with the last group", () => {
    const r = createSnapshotRegistry();
    for (let g = 0; g < 50; g++) r.setSnapshot(`g${g}`, world(20));
    const s = r.stats();
    assert.equal(s.resources, 80, "20 services × 4 types, whatever the number of groups");
    assert.equal(s.references, 50 * 80);
    const a = r.getSnapshot("g0")?.get(CDS)?.resources.get("svc-3");
    const b = r.getSnapshot("g49")?.get(CDS)?.resources.get("svc-3");
    assert.equal(a, b, "one object for one content");
    // A change in one group makes a new entry only for what changed.
    r.updateResources("g7", EDS, { upsert: [cla("svc-3", 4)] });
    assert.equal(r.stats().resources, 81);
    for (let g = 0; g < 50; g++) r.clearSnapshot(`g${g}`);
    assert.deepEqual(
      { resources: r.stats().resources, references: r.stats().references, bytes: r.stats().resourceBytes },
      { resources: 0, references: 0, bytes: 0 },
    );
  });

  it("does not encode a frozen message again", () => {
    const r = createSnapshotRegistry();
    const c = Object.freeze(edsCluster("frozen"));
    r.setSnapshot("a", { [CDS]: [c] });
    r.setSnapshot("b", { [CDS]: [c] });
    const held = r.getSnapshot("a")?.get(CDS)?.resources.get("frozen");
    assert.equal(held?.message, c);
    assert.equal(held, r.getSnapshot("b")?.get(CDS)?.resources.get("frozen"));
  });
});

describe("composed node groups", () => {
  it("serve the union of their parts, with the version a flat snapshot would have", () => {
    const r = createSnapshotRegistry();
    r.setSnapshot("shared", world(3));
    r.setSnapshot("own-a", { [CDS]: [edsCluster("inbound-a")] });
    const snap = r.composeSnapshot("a", ["shared", "own-a"]);
    const flat = createSnapshotRegistry().setSnapshot("flat", {
      ...world(3),
      [CDS]: [...(world(3)[CDS] ?? []), edsCluster("inbound-a")],
    });
    assert.equal(snap.get(CDS)?.resources.size, 4);
    assert.equal(snap.get(CDS)?.version, flat.get(CDS)?.version);
    assert.equal(
      snap.get(EDS),
      r.getSnapshot("shared")?.get(EDS),
      "a type only one part has is that part's own object",
    );
    assert.deepEqual(r.partsOf("a"), ["shared", "own-a"]);
  });

  it("groups composed of the same parts share type snapshots, and their watchers share one response", async () => {
    const r = createSnapshotRegistry();
    r.setSnapshot("shared", world(3));
    r.setSnapshot("inbound-8080", { [CDS]: [edsCluster("inbound|8080||")] });
    const got: WatchResponse[] = [];
    for (let i = 0; i < 20; i++) {
      r.composeSnapshot(`sidecar-${i}`, ["shared", "inbound-8080"]);
      const arm = (known?: ReadonlyMap<string, string>) =>
        r.watch(
          {
            nodeGroup: `sidecar-${i}`,
            typeUrl: CDS,
            wildcard: true,
            resourceNames: new Set(),
            ...(known ? { knownVersions: known } : {}),
          },
          (resp) => {
            got.push(resp);
            arm(resp.versions);
          },
        );
      arm();
    }
    await flush();
    assert.equal(got.length, 20);
    assert.ok(
      got.every((g) => g === got[0]),
      "one response for twenty groups",
    );
    got.length = 0;
    r.updateResources("shared", CDS, { upsert: [edsCluster("svc-new")] });
    await flush();
    assert.equal(got.length, 20, "a part's change reaches every group composed of it");
    assert.ok(got.every((g) => g === got[0]));
    assert.equal(got[0]?.resources.length, 5);
    assert.equal(r.getSnapshot("sidecar-3")?.get(CDS), r.getSnapshot("sidecar-17")?.get(CDS));
  });

  it("refuses overlapping parts, and a part update that would overlap, keeping everything as it was", () => {
    const r = createSnapshotRegistry();
    r.setSnapshot("shared", world(2));
    r.setSnapshot("own", { [CDS]: [edsCluster("mine")] });
    r.setSnapshot("dup", { [CDS]: [edsCluster("svc-0")] });
    assert.throws(
      () => r.composeSnapshot("g", ["shared", "dup"]),
      (e: unknown) => e instanceof XdsError && /parts "dup" and "shared" both hold Cluster "svc-0"/.test(e.message),
    );
    r.composeSnapshot("g", ["shared", "own"]);
    const before = r.getSnapshot("g");
    assert.throws(() => r.updateResources("own", CDS, { upsert: [edsCluster("svc-1")] }), /both hold Cluster "svc-1"/);
    assert.equal(r.getSnapshot("g"), before);
    assert.equal(r.getSnapshot("own")?.get(CDS)?.resources.size, 1);
    assert.throws(() => r.setSnapshot("g", world(1)), /composed of parts .*write to its parts/);
  });
});
