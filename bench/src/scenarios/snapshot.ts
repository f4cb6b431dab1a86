import { create, toBinary } from "@bufbuild/protobuf";
import { TypeUrl } from "@xdskit/xds-types";
import { DiscoveryResponseSchema } from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";
import { assembleDiscoveryResponse, createSnapshotRegistry, type EncodedResource, sotwBody } from "@xdskit/snapshot";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { ClusterSchema } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import { ClusterLoadAssignmentSchema } from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import { cla, edsCluster } from "@xdskit/snapshot/testing";
import { type Figure, type Scenario, figure } from "../figure.js";
import { gc, interleavedMedianMs, medianMs } from "../measure.js";

/** Snapshot building, response assembly and memory, each against plain protobuf-es in the same run. */
const scenario: Scenario = {
  name: "snapshot",
  description: "build a snapshot of N clusters + N CLAs (10 endpoints each); assemble a response of N resources",
  async run(ctx) {
    const n = ctx.quick ? 1000 : 10_000;
    const rounds = ctx.quick ? 3 : 9;
    const clusters = Array.from({ length: n }, (_, i) => edsCluster(`outbound|8080||svc-${i}.ns.svc.cluster.local`));
    const clas = Array.from({ length: n }, (_, i) =>
      cla(`outbound|8080||svc-${i}.ns.svc.cluster.local`, 10, 20000 + (i % 1000)),
    );
    const figures: Figure[] = [];

    ctx.log(`snapshot: building ${n} clusters + ${n} CLAs`);
    const input = { [TypeUrl.Cluster]: clusters, [TypeUrl.ClusterLoadAssignment]: clas };
    // Warm first: the same content into a new node group of the same registry
    // each round (a rebuild, or another group): encoded and hashed again, but
    // checked only once, in the first round.
    const registry = createSnapshotRegistry();
    let group = 0;
    const rebuild = medianMs(rounds, () => {
      if (group > 0) registry.clearSnapshot(`g${group - 1}`);
      registry.setSnapshot(`g${group++}`, input);
    });
    // Cold: a fresh registry each round, so nothing is reused, checks
    // included; measured in turns with the baseline on this shared machine.
    const [plain = Number.NaN, build = Number.NaN, buildUnchecked = Number.NaN] = interleavedMedianMs(rounds, [
      () => {
        for (const c of clusters) toBinary(ClusterSchema, c);
        for (const c of clas) toBinary(ClusterLoadAssignmentSchema, c);
      },
      () => createSnapshotRegistry().setSnapshot("g", input),
      () => createSnapshotRegistry({ protoRules: false }).setSnapshot("g", input),
    ]);
    const params = { clusters: n, clas: n, endpointsPerCla: 10 };
    const baseline = { name: "protobuf-es toBinary of the same messages", value: plain };
    figures.push(
      figure({
        scenario: "snapshot",
        metric: "build snapshot, cold (encode, hash, structural + protoc-gen-validate checks)",
        params,
        value: build,
        unit: "ms",
        baseline,
        target: "<= 1.3x",
      }),
      figure({
        scenario: "snapshot",
        metric: "build snapshot, cold, without protoc-gen-validate checks",
        params,
        value: buildUnchecked,
        unit: "ms",
        baseline,
      }),
      figure({
        scenario: "snapshot",
        metric: "build snapshot of content already checked (new node group)",
        params,
        value: rebuild,
        unit: "ms",
        baseline,
      }),
    );

    const snap = registry.getSnapshot(`g${group - 1}`);
    const resources: EncodedResource[] = [...(snap?.get(TypeUrl.ClusterLoadAssignment)?.resources.values() ?? [])];
    const message = create(DiscoveryResponseSchema, {
      versionInfo: "v1",
      typeUrl: TypeUrl.ClusterLoadAssignment,
      nonce: "1",
      resources: clas.map((c) => anyPack(ClusterLoadAssignmentSchema, c)),
    });
    const reference = medianMs(rounds, () => {
      toBinary(DiscoveryResponseSchema, message);
    });
    const body = sotwBody(resources);
    let nonce = 0;
    const assemble = medianMs(rounds * 4, () => {
      assembleDiscoveryResponse(
        { versionInfo: "v1", typeUrl: TypeUrl.ClusterLoadAssignment, nonce: String(nonce++) },
        body,
      );
    });
    figures.push(
      figure({
        scenario: "snapshot",
        metric: "assemble DiscoveryResponse (shared body + header)",
        params: { resources: n },
        value: assemble,
        unit: "ms",
        baseline: { name: "protobuf-es toBinary(DiscoveryResponse)", value: reference },
        target: "<= 0.2x (>= 5x faster)",
      }),
    );

    // Memory: one more snapshot, measured as heap growth over its encoded size.
    const hadGc = gc();
    const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const held = createSnapshotRegistry();
    held.setSnapshot("m", { [TypeUrl.Cluster]: clusters, [TypeUrl.ClusterLoadAssignment]: clas });
    gc();
    const after = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    let encoded = 0;
    for (const t of held.getSnapshot("m")?.types.values() ?? [])
      for (const r of t.resources.values()) encoded += r.anyBytes.length;
    figures.push(
      figure({
        scenario: "snapshot",
        metric: `memory per snapshot (heap growth${hadGc ? ", after gc" : ", no --expose-gc: noisy"}; messages shared with the caller)`,
        params: { clusters: n, clas: n },
        value: Math.max(0, after - before),
        unit: "bytes",
        baseline: { name: "encoded bytes of the snapshot", value: encoded },
      }),
    );
    return figures;
  },
};

export default scenario;
