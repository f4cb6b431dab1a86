import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { DiscoveryRequestSchema } from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";
import { sotwAck } from "./load.js";

describe("load generator", () => {
  it("writes a SotW ACK byte for byte as toBinary does, with the names encoded once", () => {
    const names = Array.from({ length: 300 }, (_, i) => `outbound|8080||svc-${i}.ns.svc.cluster.local`);
    const cases: [string, string, string, readonly string[]][] = [
      ["type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", "v7", "n-12", names],
      ["type.googleapis.com/envoy.config.cluster.v3.Cluster", "", "", []],
      ["t/ü", "välue", "nonce-😀", ["ä", "b"]],
    ];
    for (const [typeUrl, versionInfo, responseNonce, list] of cases) {
      const want = toBinary(
        DiscoveryRequestSchema,
        create(DiscoveryRequestSchema, { typeUrl, versionInfo, responseNonce, resourceNames: [...list] }),
      );
      // Twice: the second use reads the cached names.
      assert.deepEqual(Buffer.from(sotwAck(typeUrl, versionInfo, responseNonce, list)), Buffer.from(want));
      assert.deepEqual(Buffer.from(sotwAck(typeUrl, versionInfo, responseNonce, list)), Buffer.from(want));
    }
  });
});
