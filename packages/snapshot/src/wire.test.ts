import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyPack, DurationSchema } from "@bufbuild/protobuf/wkt";
import { TypeUrl } from "@xdskit/xds-types";
import { ClusterSchema } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import { ClusterLoadAssignmentSchema } from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import {
  DeltaDiscoveryResponseSchema,
  DiscoveryResponseSchema,
  ResourceSchema,
} from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";
import {
  assembleDeltaDiscoveryResponse,
  assembleDiscoveryResponse,
  createSnapshotRegistry,
  deltaBody,
  sotwBody,
} from "./index.js";
import { cla, edsCluster } from "./testing/fixtures.js";

describe("wire assembly", () => {
  const registry = createSnapshotRegistry();
  const clusters = Array.from({ length: 50 }, (_, i) => edsCluster(`c-${i}`));
  const snap = registry.setSnapshot("g", { [TypeUrl.Cluster]: clusters });
  const resources = [...(snap.get(TypeUrl.Cluster)?.resources.values() ?? [])];

  it("a SotW response is byte-for-byte what protobuf-es would encode", () => {
    const header = { versionInfo: "v1", typeUrl: TypeUrl.Cluster, nonce: "17", controlPlane: "xdskit-test" };
    const ours = assembleDiscoveryResponse(header, sotwBody(resources));
    const reference = toBinary(
      DiscoveryResponseSchema,
      create(DiscoveryResponseSchema, {
        versionInfo: "v1",
        typeUrl: TypeUrl.Cluster,
        nonce: "17",
        controlPlane: { identifier: "xdskit-test" },
        resources: resources.map((r) => anyPack(ClusterSchema, r.message as never)),
      }),
    );
    assert.deepEqual(Buffer.from(ours), Buffer.from(reference));
    const decoded = fromBinary(DiscoveryResponseSchema, ours);
    assert.equal(decoded.resources.length, 50);
    assert.equal(decoded.controlPlane?.identifier, "xdskit-test");
  });

  it("an empty SotW response matches too", () => {
    const ours = assembleDiscoveryResponse({ versionInfo: "v0", typeUrl: TypeUrl.Listener, nonce: "1" }, sotwBody([]));
    const reference = toBinary(
      DiscoveryResponseSchema,
      create(DiscoveryResponseSchema, { versionInfo: "v0", typeUrl: TypeUrl.Listener, nonce: "1" }),
    );
    assert.deepEqual(Buffer.from(ours), Buffer.from(reference));
  });

  it("a Delta response is byte-for-byte what protobuf-es would encode, TTLs and removals included", () => {
    const r = createSnapshotRegistry();
    const s = r.setSnapshot("g", {
      [TypeUrl.ClusterLoadAssignment]: [{ resource: cla("a", 3), ttlMs: 1500 }, cla("b", 1)],
    });
    const res = [...(s.get(TypeUrl.ClusterLoadAssignment)?.resources.values() ?? [])];
    const header = {
      systemVersionInfo: "sys-3",
      typeUrl: TypeUrl.ClusterLoadAssignment,
      nonce: "n9",
      removedResources: ["gone-1", "gone-2"],
      controlPlane: "cp",
    };
    const ours = assembleDeltaDiscoveryResponse(header, deltaBody(res));
    const reference = toBinary(
      DeltaDiscoveryResponseSchema,
      create(DeltaDiscoveryResponseSchema, {
        systemVersionInfo: "sys-3",
        typeUrl: TypeUrl.ClusterLoadAssignment,
        nonce: "n9",
        removedResources: ["gone-1", "gone-2"],
        controlPlane: { identifier: "cp" },
        resources: res.map((x) =>
          create(ResourceSchema, {
            name: x.name,
            version: x.version,
            resource: anyPack(ClusterLoadAssignmentSchema, x.message as never),
            ...(x.ttlMs !== undefined ? { ttl: create(DurationSchema, { seconds: 1n, nanos: 500_000_000 }) } : {}),
          }),
        ),
      }),
    );
    assert.deepEqual(Buffer.from(ours), Buffer.from(reference));
  });

  it("shares one body per resource array", () => {
    assert.equal(sotwBody(resources), sotwBody(resources));
    assert.notEqual(sotwBody(resources), sotwBody([...resources]));
    assert.deepEqual(sotwBody(resources), sotwBody([...resources]));
  });
});
