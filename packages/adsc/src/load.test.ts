import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  DeltaDiscoveryResponseSchema,
  DiscoveryRequestSchema,
  DiscoveryResponseSchema,
} from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";
import { scanResponse } from "./load-scan.js";
import { type LoadEvent, runLoad, sotwAck } from "./load.js";
import { startServer } from "@xdskit/ads-server/testing";
import { createSnapshotRegistry } from "@xdskit/snapshot";
import { world } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";

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

describe("load generator's response scan", () => {
  const any = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ typeUrl: "t/x", value: new Uint8Array([8, i & 127]) }));
  it("reads version, type, nonce and the resource count of SotW and Delta responses as decoding does", () => {
    const sotw = toBinary(
      DiscoveryResponseSchema,
      create(DiscoveryResponseSchema, {
        versionInfo: "v-ü-1",
        resources: any(130),
        canary: true,
        typeUrl: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
        nonce: "n-7",
        controlPlane: { identifier: "cp" },
      }),
    );
    assert.deepEqual(scanResponse(sotw), {
      version: "v-ü-1",
      typeUrl: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
      nonce: "n-7",
      resources: 130,
    });
    const delta = toBinary(
      DeltaDiscoveryResponseSchema,
      create(DeltaDiscoveryResponseSchema, {
        systemVersionInfo: "s1",
        resources: [{ name: "a", version: "1" }, { name: "b" }],
        typeUrl: "t/eds",
        nonce: "9",
        removedResources: ["c", "d", "e"],
      }),
    );
    assert.deepEqual(scanResponse(delta), { version: "s1", typeUrl: "t/eds", nonce: "9", resources: 2 });
    assert.deepEqual(scanResponse(new Uint8Array()), { version: "", typeUrl: "", nonce: "", resources: 0 });
  });
  it("refuses bytes that are not a message", () => {
    assert.throws(() => scanResponse(new Uint8Array([0x0a, 0x05, 0x61])), /runs past the end/);
    assert.throws(() => scanResponse(new Uint8Array([0x08])), /truncated varint/);
    assert.throws(() => scanResponse(new Uint8Array([0x0b])), /wire type 3/);
  });
});

describe("load generator against a server", () => {
  it("opens a stream again after the server ends it, when told to, as Envoy retries", async () => {
    const tried = new Map<string, number>();
    // The first stream of every node is refused; the second is served.
    const { registry, port, close } = await startServer({
      registry: createSnapshotRegistry({ nodeGroup: () => "all" }),
      authorize: ({ node }) => {
        const n = (tried.get(node.id) ?? 0) + 1;
        tried.set(node.id, n);
        return n === 1 ? { allow: false, reason: "come back later" } : { allow: true };
      },
    });
    try {
      registry.setSnapshot("all", world(3));
      const plan = {
        target: `127.0.0.1:${port}`,
        streams: 4,
        streamsPerChannel: 2,
        subscriptions: { [TypeUrl.Cluster]: [] },
        node: { ids: ["a", "b", "c", "d"] },
      };
      const strict = await new Promise<LoadEvent>((resolve) => {
        const load = runLoad(plan, (e) => {
          if (e.ev === "error" || e.ev === "done") {
            load.stop();
            resolve(e);
          }
        });
      });
      assert.equal(strict.ev, "error", "without reopenAfterMs a refused stream is an error");
      tried.clear();
      const done = await new Promise<LoadEvent>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("no full config within 10 s")), 10_000);
        const load = runLoad({ ...plan, reopenAfterMs: 20 }, (e) => {
          if (e.ev === "error" || e.ev === "done") {
            clearTimeout(t);
            load.stop();
            resolve(e);
          }
        });
      });
      assert.equal(done.ev, "done");
      if (done.ev === "done") {
        assert.equal(done.streams, 4);
        assert.equal(done.reopened, 4, "each stream was refused once and opened again");
      }
      assert.deepEqual([...tried.values()], [2, 2, 2, 2]);
    } finally {
      await close();
    }
  });
});
