import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { AnySchema, anyPack, DurationSchema } from "@bufbuild/protobuf/wkt";
import { TypeUrl } from "@xdskit/xds-types";
import { ClusterSchema } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import { ClusterLoadAssignmentSchema } from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import { ListenerSchema } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import { encodeAllAsAny, encodeAsAny } from "./any-writer.js";
import { cla, edsCluster } from "./testing/fixtures.js";

describe("encodeAsAny", () => {
  it("writes what protobuf-es writes for the packed Any, byte for byte", () => {
    const cases = [
      { schema: ClusterSchema, url: TypeUrl.Cluster, message: edsCluster("outbound|80||a.ns.svc.cluster.local") },
      { schema: ClusterLoadAssignmentSchema, url: TypeUrl.ClusterLoadAssignment, message: cla("c", 10, 8080) },
      // A large message: its length needs a three-byte varint.
      { schema: ClusterLoadAssignmentSchema, url: TypeUrl.ClusterLoadAssignment, message: cla("big", 2_000, 1) },
      { schema: ListenerSchema, url: TypeUrl.Listener, message: create(ListenerSchema, { name: "l" }) },
      // Not an xDS type: any message can be a resource type's schema.
      {
        schema: DurationSchema,
        url: "type.googleapis.com/google.protobuf.Duration",
        message: create(DurationSchema, { seconds: 5n }),
      },
    ];
    for (const { schema, url, message } of cases) {
      const expected = toBinary(AnySchema, anyPack(schema, message));
      assert.deepEqual(encodeAsAny(schema, url, message), expected, schema.typeName);
    }
  });

  it("leaves out the value of an empty message and the type URL when empty, as an Any does", () => {
    const empty = create(ListenerSchema);
    assert.deepEqual(
      encodeAsAny(ListenerSchema, TypeUrl.Listener, empty),
      toBinary(AnySchema, anyPack(ListenerSchema, empty)),
    );
    const named = create(ListenerSchema, { name: "x" });
    assert.deepEqual(
      encodeAsAny(ListenerSchema, "", named),
      toBinary(AnySchema, create(AnySchema, { typeUrl: "", value: toBinary(ListenerSchema, named) })),
    );
  });

  it("keeps a message that ends in an empty field 2 whole", () => {
    // A Listener's address is field 2: empty, it is written as 0x12 0x00, like an empty Any value would not be.
    const l = create(ListenerSchema, { address: {} });
    const bytes = toBinary(ListenerSchema, l);
    assert.deepEqual([...bytes.subarray(-2)], [0x12, 0x00]);
    assert.deepEqual(
      encodeAsAny(ListenerSchema, TypeUrl.Listener, l),
      toBinary(AnySchema, create(AnySchema, { typeUrl: TypeUrl.Listener, value: bytes })),
    );
  });

  it("writes many at once exactly as one by one, across batches, empty messages included", () => {
    const messages = Array.from({ length: 2_345 }, (_, i) =>
      i % 500 === 7 ? create(ClusterLoadAssignmentSchema) : cla(`c-${i}`, 1 + (i % 40), 8080),
    );
    const many = encodeAllAsAny(ClusterLoadAssignmentSchema, TypeUrl.ClusterLoadAssignment, messages);
    assert.equal(many.length, messages.length);
    messages.forEach((m, i) => {
      assert.deepEqual(many[i], encodeAsAny(ClusterLoadAssignmentSchema, TypeUrl.ClusterLoadAssignment, m), `#${i}`);
    });
    // Each is a buffer of its own, not a view into a shared one.
    assert.equal(many[3]?.byteOffset, 0);
    assert.equal(many[3]?.buffer.byteLength, many[3]?.length);
  });
});
