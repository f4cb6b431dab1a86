// A cluster's Services, EndpointSlices, Pods and Nodes as xdskit's model, the
// way Istio reads a cluster: a Service is the host
// `<name>.<namespace>.svc.<domain>`, each port's protocol comes from its
// appProtocol or its name, endpoints from the EndpointSlices of the Service
// (on the ports they serve, with the Pod's labels and identity and the
// Node's locality), an ExternalName Service is a DNS service.
import type { EndpointHealth, PortProtocol, Service, ServiceEndpoint, ServicePort } from "@xdskit/config-generator";
import type { V1EndpointSlice, V1Node, V1Pod, V1Service } from "@kubernetes/client-node";

/** What the mapping reads besides the objects. */
export interface MappingOptions {
  /** The cluster's DNS domain. Default `cluster.local`. */
  readonly domain: string;
  /** The SPIFFE trust domain of workload identities. Default `cluster.local`. */
  readonly trustDomain: string;
  /** Whether a namespace's objects are served. */
  readonly namespaceSelected: (namespace: string) => boolean;
}

/** The objects a model is built from, by `namespace/name`. */
export interface ClusterObjects {
  readonly services: ReadonlyMap<string, V1Service>;
  readonly slices: ReadonlyMap<string, V1EndpointSlice>;
  readonly pods: ReadonlyMap<string, V1Pod>;
  readonly nodes: ReadonlyMap<string, V1Node>;
}

/** The host name of a Service. */
export function hostOf(name: string, namespace: string, domain: string): string {
  return `${name}.${namespace}.svc.${domain}`;
}

const GRPC = new Set(["grpc", "grpc-web"]);
const HTTP = new Set(["http", "http2", "h2c", "kubernetes.io/h2c", "kubernetes.io/ws", "kubernetes.io/wss"]);
const TCP = new Set(["tcp", "tls", "https", "mongo", "mysql", "redis", "kafka", "zookeeper", "kubernetes.io/tls"]);

/**
 * A port's protocol as Istio selects it: the port's `appProtocol`, else the
 * prefix of its name before the first `-` (`grpc`, `http-web`, `tcp-db`);
 * undefined when neither says (Istio sniffs; xdskit's sidecars then speak
 * the caller's protocol).
 */
export function protocolOf(port: { name?: string; appProtocol?: string }): PortProtocol | undefined {
  const pick = (p: string | undefined): PortProtocol | undefined => {
    if (!p) return undefined;
    const x = p.toLowerCase();
    if (GRPC.has(x)) return "grpc";
    if (HTTP.has(x)) return "http";
    if (TCP.has(x)) return "tcp";
    return undefined;
  };
  return pick(port.appProtocol) ?? pick(port.name?.split("-")[0]);
}

/** The workload identity of a pod's service account. */
export function spiffeIdOf(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

function healthOf(slice: {
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
}): EndpointHealth {
  const c = slice.conditions ?? {};
  // An unset ready condition means ready (the API's own rule).
  if (c.ready !== false) return "healthy";
  if (c.terminating) return "draining";
  return "unhealthy";
}

function localityOf(node: V1Node | undefined, zone: string | undefined) {
  const l = node?.metadata?.labels ?? {};
  const region = l["topology.kubernetes.io/region"];
  const z = l["topology.kubernetes.io/zone"] ?? zone;
  const subZone = l["topology.istio.io/subzone"];
  if (!region && !z && !subZone) return undefined;
  return { ...(region ? { region } : {}), ...(z ? { zone: z } : {}), ...(subZone ? { subZone } : {}) };
}

/** Whether a slice belongs to this Service and not to a deleted one of the same name (no garbage collector removed it). */
export function ownedBy(slice: V1EndpointSlice, svc: V1Service): boolean {
  const owner = (slice.metadata?.ownerReferences ?? []).find((o) => o.kind === "Service");
  const uid = svc.metadata?.uid;
  return !owner || !uid || owner.uid === uid;
}

/** The Service a slice says it serves, as `namespace/name`, or undefined. */
export function sliceService(slice: V1EndpointSlice): string | undefined {
  const owner = slice.metadata?.labels?.["kubernetes.io/service-name"];
  return owner ? `${slice.metadata?.namespace ?? ""}/${owner}` : undefined;
}

/** Builds the model's services from a cluster's objects, sorted by host (every service rebuilt; ClusterModel is the incremental form). */
export function servicesFromCluster(objects: ClusterObjects, options: MappingOptions): Service[] {
  const byService = new Map<string, V1EndpointSlice[]>();
  for (const s of objects.slices.values()) {
    const key = sliceService(s);
    if (!key) continue;
    const list = byService.get(key);
    if (list) list.push(s);
    else byService.set(key, [s]);
  }
  const out: Service[] = [];
  for (const [key, svc] of objects.services) {
    if (!options.namespaceSelected(svc.metadata?.namespace ?? "")) continue;
    const slices = (byService.get(key) ?? []).filter((s) => ownedBy(s, svc));
    const service = serviceOf(svc, slices, objects, options);
    if (service) out.push(service);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One Service as the model's service (undefined when it has no TCP port), from its own slices. */
export function serviceOf(
  svc: V1Service,
  slices: readonly V1EndpointSlice[],
  objects: ClusterObjects,
  options: MappingOptions,
): Service | undefined {
  const name = svc.metadata?.name ?? "";
  const namespace = svc.metadata?.namespace ?? "";
  const host = hostOf(name, namespace, options.domain);
  // Only TCP ports: UDP and SCTP are not proxied.
  const ports: ServicePort[] = (svc.spec?.ports ?? [])
    .filter((p) => (p.protocol ?? "TCP") === "TCP")
    .map((p) => {
      const protocol = protocolOf(p);
      return { port: p.port, ...(p.name ? { name: p.name } : {}), ...(protocol ? { protocol } : {}) };
    });
  if (ports.length === 0) return undefined;
  const labels = svc.metadata?.labels ?? {};
  const metadata = { namespace, kubernetesName: name };
  if (svc.spec?.type === "ExternalName" && svc.spec.externalName) {
    const first = ports[0] as ServicePort;
    return {
      name: host,
      port: first.port,
      ...(first.protocol ? { protocol: first.protocol } : {}),
      labels,
      metadata,
      endpoints: [],
      dns: { host: svc.spec.externalName.replace(/\.$/, ""), port: first.port },
    };
  }
  const endpoints = endpointsOf(ports, slices, objects, options);
  const portFields =
    ports.length === 1
      ? {
          port: (ports[0] as ServicePort).port,
          ...((ports[0] as ServicePort).protocol ? { protocol: (ports[0] as ServicePort).protocol } : {}),
        }
      : { ports };
  return { name: host, ...portFields, labels, metadata, endpoints: endpoints.map((e) => e.endpoint(ports)) };
}

interface PendingEndpoint {
  endpoint(ports: readonly ServicePort[]): ServiceEndpoint;
}

/** Endpoints from a Service's slices: one per address, deduplicated, on the ports each slice serves. */
function endpointsOf(
  ports: readonly ServicePort[],
  slices: readonly V1EndpointSlice[],
  objects: ClusterObjects,
  options: MappingOptions,
): PendingEndpoint[] {
  const seen = new Map<string, PendingEndpoint>();
  const sorted = [...slices].sort((a, b) => ((a.metadata?.name ?? "") < (b.metadata?.name ?? "") ? -1 : 1));
  for (const slice of sorted) {
    if (slice.addressType !== "IPv4" && slice.addressType !== "IPv6") continue;
    // The slice's ports by the service port they serve (matched by name; an unnamed port is the only one).
    const served = new Map<number, number>();
    for (const sp of slice.ports ?? []) {
      if ((sp.protocol ?? "TCP") !== "TCP" || sp.port === undefined) continue;
      const match = ports.find((p) => (p.name ?? "") === (sp.name ?? ""));
      if (match) served.set(match.port, sp.port);
    }
    if (served.size === 0) continue;
    for (const e of slice.endpoints ?? []) {
      const pod =
        e.targetRef?.kind === "Pod"
          ? objects.pods.get(`${e.targetRef.namespace ?? slice.metadata?.namespace ?? ""}/${e.targetRef.name ?? ""}`)
          : undefined;
      const node = e.nodeName ? objects.nodes.get(`/${e.nodeName}`) : undefined;
      const locality = localityOf(node, e.zone);
      const podLabels = pod?.metadata?.labels;
      const sa = pod?.spec?.serviceAccountName;
      const podNs = pod?.metadata?.namespace;
      const health = healthOf(e);
      for (const address of e.addresses ?? []) {
        if (seen.has(address)) continue;
        seen.set(address, {
          endpoint: (all) => {
            const first = all[0] as ServicePort;
            const primary = served.get(first.port) ?? [...served.values()][0] ?? first.port;
            const perPort =
              all.length > 1
                ? { ports: Object.fromEntries(all.map((p) => [String(p.port), served.get(p.port) ?? primary])) }
                : {};
            return {
              address,
              port: primary,
              ...perPort,
              ...(health !== "healthy" ? { health } : {}),
              ...(locality ? { locality } : {}),
              ...(podLabels && Object.keys(podLabels).length > 0 ? { labels: podLabels } : {}),
              ...(sa && podNs ? { identity: spiffeIdOf(options.trustDomain, podNs, sa) } : {}),
            };
          },
        });
      }
    }
  }
  return [...seen.values()];
}
