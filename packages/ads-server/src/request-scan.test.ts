import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { TypeUrl } from "@xdskit/xds-types";
import { DeltaDiscoveryRequestSchema } from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";
import { scanDeltaAck } from "./request-scan.js";

const bytes = (init: Parameters<typeof create<typeof DeltaDiscoveryRequestSchema>>[1]) =>
  toBinary(DeltaDiscoveryRequestSchema, create(DeltaDiscoveryRequestSchema, init));

describe("Delta ACK scan", () => {
  it("reads a plain ACK's type URL and nonce as decoding does", () => {
    const long = `${TypeUrl.ClusterLoadAssignment}${"x".repeat(200)}`;
    for (const [typeUrl, responseNonce] of [
      [TypeUrl.Cluster, "7"],
      [long, "a-nonce-é"],
      ["", "1"],
      [TypeUrl.Listener, ""],
    ] as const) {
      assert.deepEqual(scanDeltaAck(bytes({ typeUrl, responseNonce })), { typeUrl, responseNonce });
    }
  });

  it("leaves everything else to the decoder: names, a node, an error, initial versions, unknown fields, bad bytes", () => {
    const base = { typeUrl: TypeUrl.Cluster, responseNonce: "3" };
    for (const other of [
      { resourceNamesSubscribe: ["a"] },
      { resourceNamesUnsubscribe: ["a"] },
      { node: { id: "n" } },
      { errorDetail: { code: 3, message: "bad" } },
      { initialResourceVersions: { a: "1" } },
      { resourceLocatorsSubscribe: [{ name: "a" }] },
    ]) {
      assert.equal(scanDeltaAck(bytes({ ...base, ...other })), undefined, JSON.stringify(other));
    }
    const ack = bytes(base);
    assert.equal(scanDeltaAck(new Uint8Array([...ack, 0x58, 0x01])), undefined, "an unknown varint field");
    assert.equal(scanDeltaAck(ack.subarray(0, ack.length - 1)), undefined, "cut short");
    assert.equal(
      scanDeltaAck(new Uint8Array([0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])),
      undefined,
      "a length too long",
    );
  });
});
