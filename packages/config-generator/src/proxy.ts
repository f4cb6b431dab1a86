import type { JsonObject } from "@bufbuild/protobuf";
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import type { Labels, Locality } from "./model.js";

/** What kind of client a node is; builders produce different config for each. */
export type ProxyKind = "sidecar" | "gateway" | "proxyless";

/** A client as the generator sees it, parsed from its xDS node (as pilot's initConnectionNode does). */
export interface Proxy {
  readonly id: string;
  readonly cluster: string;
  readonly kind: ProxyKind;
  readonly locality: Locality;
  /** First IP found in the node id (`sidecar~10.0.0.1~…`) or metadata `INSTANCE_IPS`. */
  readonly ip: string | undefined;
  readonly metadata: JsonObject;
  readonly userAgent: string;
  /** The namespace it claims: metadata `NAMESPACE`, else the `<pod>.<namespace>` part of an Istio-style id. */
  readonly namespace?: string;
  /** Its workload's labels: metadata `LABELS` (a map of strings, as Istio's agent sends them). */
  readonly labels: Labels;
  /** The service account it claims: metadata `SERVICE_ACCOUNT` (a claim; the ADS server's authorization proves it). */
  readonly serviceAccount?: string;
}

const IP = /^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-f:]+:[0-9a-f:]*$/i;

/**
 * Parses a node: Istio-style ids (`sidecar~IP~name.ns~ns.svc.cluster.local`,
 * `router~…` for gateways), gRPC user agents (proxyless), or metadata
 * `XDSKIT_KIND` = sidecar | gateway | proxyless, which wins.
 */
export function proxyFromNode(node: Node): Proxy {
  const metadata: JsonObject = node.metadata ?? {};
  const parts = node.id.split("~");
  const declared = typeof metadata.XDSKIT_KIND === "string" ? metadata.XDSKIT_KIND : undefined;
  let kind: ProxyKind = "sidecar";
  if (declared === "sidecar" || declared === "gateway" || declared === "proxyless") kind = declared;
  else if (/grpc/i.test(node.userAgentName) || node.clientFeatures.some((f) => f.startsWith("xds.config.")))
    kind = "proxyless";
  else if (parts[0] === "router") kind = "gateway";
  let ip = parts.length >= 2 && parts[1] && IP.test(parts[1]) ? parts[1] : undefined;
  if (!ip && typeof metadata.INSTANCE_IPS === "string") ip = metadata.INSTANCE_IPS.split(",")[0]?.trim() || undefined;
  const loc = node.locality;
  const ns =
    typeof metadata.NAMESPACE === "string" && metadata.NAMESPACE !== ""
      ? metadata.NAMESPACE
      : parts.length >= 4
        ? parts[2]?.split(".")[1] || undefined
        : undefined;
  const labels: Record<string, string> = {};
  const raw = metadata.LABELS;
  if (raw && typeof raw === "object" && !Array.isArray(raw))
    for (const [k, v] of Object.entries(raw)) if (typeof v === "string") labels[k] = v;
  const sa =
    typeof metadata.SERVICE_ACCOUNT === "string" && metadata.SERVICE_ACCOUNT !== ""
      ? metadata.SERVICE_ACCOUNT
      : undefined;
  return {
    id: node.id,
    cluster: node.cluster,
    kind,
    locality: loc ? { region: loc.region, zone: loc.zone, subZone: loc.subZone } : {},
    ip,
    metadata,
    userAgent: node.userAgentName,
    ...(ns ? { namespace: ns } : {}),
    labels,
    ...(sa ? { serviceAccount: sa } : {}),
  };
}

/**
 * The default node group: clients of the same kind and cluster get the same
 * config, so one generator run serves all of them. It keys on exactly what
 * the default builders read: a sidecar's IP decides its inbound listeners
 * (a proxyless node's, its gRPC server listeners), so those with an IP are
 * grouped by it too; a sidecar without one has no
 * inbound config and shares the group of its cluster (never one per node id).
 */
export function defaultNodeGroup(proxy: Proxy): string {
  if (proxy.kind !== "gateway" && proxy.ip) return `${proxy.kind}/${proxy.cluster}/${proxy.ip}`;
  return `${proxy.kind}/${proxy.cluster}`;
}
