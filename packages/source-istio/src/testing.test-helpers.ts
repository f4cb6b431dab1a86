// Shared by this package's tests: a controller fed by an Istio store, and
// the resources a kind of client gets, as JSON.
import { create, toJson } from "@bufbuild/protobuf";
import {
  type ConfigStore,
  DefaultConfigGenerator,
  type DiscoveryController,
  type ServiceRegistry,
  createDiscoveryController,
} from "@xdskit/config-generator";
import { TypeUrl, findResourceType } from "@xdskit/xds-types";
import { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { xdsRegistry } from "@xdskit/xds-types/registry";

/** A controller reading one source for services and config. */
export function controllerOf(source: ServiceRegistry & ConfigStore): DiscoveryController {
  return createDiscoveryController({
    services: source,
    config: source,
    generator: new DefaultConfigGenerator(),
    debounceMs: 1,
  });
}

/** Node ids for each kind of client. */
export const NODES = {
  sidecar: (ns = "default", ip = "10.9.0.1", labels: Record<string, string> = {}) => ({
    id: `sidecar~${ip}~app.${ns}~${ns}.svc.cluster.local`,
    metadata: { NAMESPACE: ns, LABELS: labels },
  }),
  gateway: (labels: Record<string, string> = { istio: "ingressgateway" }) => ({
    id: "router~10.9.0.100~gw.istio-system~istio-system.svc.cluster.local",
    metadata: { NAMESPACE: "istio-system", LABELS: labels },
  }),
  proxyless: (ns = "default") => ({ id: `grpc-client.${ns}`, userAgentName: "gRPC Node", metadata: { NAMESPACE: ns } }),
};

/** Protobuf JSON as tests read it: any path into it. */
// biome-ignore lint/suspicious/noExplicitAny: tests walk protobuf JSON by the paths they assert on
export type Loose = any;

/** Every resource of a type a node gets, by name, as protobuf JSON. */
export function resourcesOf(
  controller: DiscoveryController,
  node: { id: string; userAgentName?: string; metadata?: Record<string, unknown> },
  typeUrl: string,
): Map<string, Loose> {
  const n = create(NodeSchema, {
    id: node.id,
    cluster: "test",
    userAgentName: node.userAgentName ?? "envoy",
    ...(node.metadata ? { metadata: node.metadata as never } : {}),
  });
  const group = controller.registry.nodeGroup(n);
  const held = controller.registry.getSnapshot(group)?.get(typeUrl)?.resources ?? new Map();
  const type = findResourceType(typeUrl);
  const out = new Map<string, Loose>();
  for (const [name, r] of held) {
    const msg = (r as { message?: unknown }).message ?? r;
    out.set(name, toJson(type?.schema as never, msg as never, { registry: xdsRegistry }));
  }
  return out;
}

export { TypeUrl };
