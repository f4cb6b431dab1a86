// Builders see what the node group key covers, and reading more is loud.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TypeUrl } from "@xdskit/xds-types";
import { AccessLogSchema } from "@xdskit/xds-types/gen/envoy/config/accesslog/v3/accesslog_pb";
import { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { defineResourceType } from "@xdskit/xds-types";
import { createDiscoveryController } from "./controller.js";
import { DefaultConfigGenerator } from "./generator.js";
import { createMemorySource } from "./memory-source.js";

const logs = defineResourceType({ schema: AccessLogSchema, shortName: "ALDS" });
const grpc = (id: string, team: string) =>
  create(NodeSchema, { id, cluster: "web", userAgentName: "gRPC Go", metadata: { TEAM: team } });

function setup(groupBy?: { metadata?: string[] }) {
  const source = createMemorySource();
  source.setService({ name: "echo", endpoints: [{ address: "10.0.0.1", port: 80 }] });
  const generator = new DefaultConfigGenerator().registerBuilder(logs.typeUrl, ({ proxy }) => [
    create(AccessLogSchema, { name: `log-of-${String(proxy.metadata.TEAM)}` }),
  ]);
  const controller = createDiscoveryController({
    services: source,
    generator,
    registry: { resourceTypes: [logs] },
    ...(groupBy ? { groupBy } : {}),
  });
  return controller;
}

describe("what builders may read of a proxy", () => {
  it("a builder reading metadata the group key does not cover fails loudly, naming the key and the fix", () => {
    const controller = setup();
    const failures: string[] = [];
    controller.on("pushFailed", (e) => failures.push(e.error.message));
    const group = controller.registry.nodeGroup(grpc("a", "red"));
    assert.match(
      failures[0] ?? "",
      /a builder read proxy\.metadata\.TEAM, which the node group key does not cover.*add "TEAM" to the controller's groupBy\.metadata/,
    );
    assert.equal(controller.registry.getSnapshot(group), undefined, "nothing half-built is served");
    controller.close();
  });

  it("with the key covering it, members with different values get their own groups and their own config", () => {
    const controller = setup({ metadata: ["TEAM"] });
    const red = controller.registry.nodeGroup(grpc("a", "red"));
    const blue = controller.registry.nodeGroup(grpc("b", "blue"));
    const red2 = controller.registry.nodeGroup(grpc("c", "red"));
    assert.notEqual(red, blue);
    assert.equal(red, red2, "equal keys share a group");
    const names = (g: string) => [...(controller.registry.getSnapshot(g)?.get(logs.typeUrl)?.resources.keys() ?? [])];
    assert.deepEqual(names(red), ["log-of-red"]);
    assert.deepEqual(names(blue), ["log-of-blue"]);
    assert.ok(controller.registry.getSnapshot(red)?.get(TypeUrl.Cluster), "the shared parts are there too");
    controller.close();
  });
});
