// A ServiceEntry as model services (one per host, as Istio makes them), with
// its endpoints written inline or selected from WorkloadEntries of its
// namespace by `workloadSelector`.
import type { PortProtocol, Service, ServiceEndpoint, ServicePort } from "@xdskit/config-generator";
import { type NameContext, arr, exportTo, fieldFail, strings } from "./fields.js";

type Obj = Record<string, unknown>;

/** A WorkloadEntry's spec, with its namespace, as ServiceEntries select them. */
export interface Workload {
  readonly namespace: string;
  readonly name: string;
  readonly spec: Obj;
}

/** Istio's protocol names as the model's: HTTP/2 and gRPC upstreams are `grpc`, TLS-carrying ports `tls`. */
export function protocolOf(name: unknown): PortProtocol {
  const p = String(name ?? "TCP").toUpperCase();
  if (p === "HTTP" || p === "HTTP_PROXY") return "http";
  if (p === "HTTP2" || p === "GRPC" || p === "GRPC-WEB") return "grpc";
  if (p === "HTTPS" || p === "TLS") return "tls";
  return "tcp";
}

function locality(v: unknown): ServiceEndpoint["locality"] | undefined {
  if (typeof v !== "string" || v === "") return undefined;
  const [region, zone, subZone] = v.split("/");
  return { ...(region ? { region } : {}), ...(zone ? { zone } : {}), ...(subZone ? { subZone } : {}) };
}

interface PortSpec {
  readonly number: number;
  readonly name: string;
  readonly protocol: PortProtocol;
  readonly targetPort: number | undefined;
}

// One endpoint (an inline one or a WorkloadEntry) on every port of the entry.
function endpoint(
  e: Obj,
  ports: readonly PortSpec[],
  path: string,
  trustDomain: string,
  namespace: string,
): ServiceEndpoint {
  if (typeof e.address !== "string" || e.address === "") fieldFail(`${path}.address`, "is required");
  const own = (e.ports ?? {}) as Record<string, unknown>;
  const on = (p: PortSpec) => (typeof own[p.name] === "number" ? (own[p.name] as number) : (p.targetPort ?? p.number));
  const first = ports[0] as PortSpec;
  const labels = strings(e.labels);
  const loc = locality(e.locality);
  const byPort: Record<string, number> = {};
  for (const p of ports) if (on(p) !== on(first)) byPort[String(p.number)] = on(p);
  return {
    address: e.address,
    port: on(first),
    ...(Object.keys(byPort).length > 0 ? { ports: byPort } : {}),
    ...(labels ? { labels } : {}),
    ...(loc ? { locality: loc } : {}),
    ...(typeof e.weight === "number" && e.weight > 0 ? { weight: Math.min(128, e.weight) } : {}),
    ...(typeof e.serviceAccount === "string" && e.serviceAccount !== ""
      ? { identity: `spiffe://${trustDomain}/ns/${namespace}/sa/${e.serviceAccount}` }
      : {}),
  };
}

/** Options of {@link convertServiceEntry}. */
export interface ServiceEntryContext extends NameContext {
  /** Trust domain of workload identities. */
  readonly trustDomain: string;
  /** WorkloadEntries of every namespace. */
  readonly workloads: readonly Workload[];
}

/** Converts a ServiceEntry's spec into services, one per host. */
export function convertServiceEntry(spec: Obj, ctx: ServiceEntryContext): Service[] {
  const hosts = arr<string>(spec.hosts).map((h) => h.toLowerCase());
  if (hosts.length === 0) fieldFail("spec.hosts", "must list at least one host");
  const ports: PortSpec[] = arr<Obj>(spec.ports).map((p, i) => {
    if (typeof p.number !== "number") fieldFail(`spec.ports[${i}].number`, "is required");
    return {
      number: p.number,
      name: typeof p.name === "string" ? p.name : String(p.number),
      protocol: protocolOf(p.protocol),
      targetPort: typeof p.targetPort === "number" ? p.targetPort : undefined,
    };
  });
  if (ports.length === 0) fieldFail("spec.ports", "must list at least one port");
  const resolution = String(spec.resolution ?? "NONE");
  const inline = arr<Obj>(spec.endpoints);
  const selector = strings((spec.workloadSelector as Obj | undefined)?.labels);
  if (selector && inline.length > 0)
    fieldFail("spec.workloadSelector", "give endpoints or a workloadSelector, not both");
  let endpoints: ServiceEndpoint[] = [];
  let dns: Service["dns"];
  let passthrough = false;
  if (resolution === "NONE") {
    if (inline.length > 0 || selector)
      fieldFail("spec.resolution", "NONE takes no endpoints: connections go where the client sent them");
    passthrough = true;
  } else if (resolution === "STATIC") {
    if (selector) {
      endpoints = ctx.workloads
        .filter((w) => w.namespace === ctx.namespace)
        .filter((w) => Object.entries(selector).every(([k, v]) => strings(w.spec.labels)?.[k] === v))
        .map((w) =>
          endpoint(w.spec, ports, `WorkloadEntry ${w.namespace}/${w.name} spec`, ctx.trustDomain, w.namespace),
        );
    } else {
      endpoints = inline.map((e, i) => endpoint(e, ports, `spec.endpoints[${i}]`, ctx.trustDomain, ctx.namespace));
    }
  } else if (resolution === "DNS" || resolution === "DNS_ROUND_ROBIN") {
    if (selector) fieldFail("spec.workloadSelector", "DNS resolution takes host names, not workloads");
    if (inline.length > 1)
      fieldFail(
        "spec.endpoints",
        "DNS resolution is supported with at most one endpoint (a name resolved by the client)",
      );
    const target = inline[0];
    if (target && typeof target.address !== "string") fieldFail("spec.endpoints[0].address", "is required");
    dns = {
      host: (target?.address as string | undefined) ?? "",
      port: ports[0]?.targetPort ?? (ports[0] as PortSpec).number,
    };
  } else
    fieldFail("spec.resolution", `must be NONE, STATIC, DNS or DNS_ROUND_ROBIN, got ${JSON.stringify(resolution)}`);
  const shared = {
    namespace: ctx.namespace,
    ...(exportTo(spec.exportTo) ? { exportTo: exportTo(spec.exportTo) as string[] } : {}),
    ...(arr(spec.addresses).length > 0 ? { addresses: arr<string>(spec.addresses) } : {}),
    ...(spec.location === "MESH_EXTERNAL" ? { external: true } : {}),
    ...(passthrough ? { passthrough: true } : {}),
  };
  const single = ports.length === 1 ? (ports[0] as PortSpec) : undefined;
  const servicePorts: ServicePort[] = ports.map((p) => ({ port: p.number, name: p.name, protocol: p.protocol }));
  return hosts.map((host) => {
    if (host.includes("*")) fieldFail("spec.hosts", `wildcard host ${host} is not supported by xdskit: name each host`);
    return {
      name: host,
      ...shared,
      ...(single ? { port: single.number, protocol: single.protocol } : { ports: servicePorts }),
      endpoints,
      // DNS without an endpoint resolves the host itself.
      ...(dns ? { dns: { ...dns, host: dns.host === "" ? host : dns.host } } : {}),
    };
  });
}
