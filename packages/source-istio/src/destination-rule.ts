// A DestinationRule as the model's destination policy: load balancing,
// connection pool limits, outlier detection, locality failover and TLS, per
// port and per subset.
import type {
  CircuitBreaker,
  DestinationPolicy,
  LoadBalancer,
  OutlierDetection,
  TrafficPolicy,
  UpstreamTls,
} from "@xdskit/config-generator";
import { type NameContext, arr, durationMs, exportTo, fieldFail, resolveHost, strings } from "./fields.js";

type Obj = Record<string, unknown>;

const SIMPLE: Record<string, LoadBalancer["policy"]> = {
  ROUND_ROBIN: "round-robin",
  UNSPECIFIED: "round-robin",
  LEAST_REQUEST: "least-request",
  LEAST_CONN: "least-request",
  RANDOM: "random",
};

function loadBalancer(lb: Obj, path: string): LoadBalancer {
  if (typeof lb.simple === "string") {
    const policy = SIMPLE[lb.simple];
    if (!policy) fieldFail(`${path}.simple`, `${lb.simple} is not supported (ROUND_ROBIN, LEAST_REQUEST, RANDOM)`);
    return { policy };
  }
  const ch = lb.consistentHash as Obj | undefined;
  if (ch) {
    if (ch.maglev !== undefined) fieldFail(`${path}.consistentHash.maglev`, "is not supported (use ringHash)");
    const ring = (ch.ringHash as Obj | undefined)?.minimumRingSize ?? ch.minimumRingSize;
    const cookie = ch.httpCookie as Obj | undefined;
    return {
      policy: "ring-hash",
      ...(typeof ch.httpHeaderName === "string" ? { hashHeaders: [ch.httpHeaderName.toLowerCase()] } : {}),
      ...(cookie
        ? {
            hashCookie: {
              name: String(cookie.name ?? ""),
              ...(cookie.ttl !== undefined
                ? { ttlMs: durationMs(cookie.ttl, `${path}.consistentHash.httpCookie.ttl`) }
                : {}),
              ...(typeof cookie.path === "string" ? { path: cookie.path } : {}),
            },
          }
        : {}),
      ...(ch.useSourceIp === true ? { hashSourceIp: true } : {}),
      ...(typeof ch.httpQueryParameterName === "string" ? { hashQueryParam: ch.httpQueryParameterName } : {}),
      ...(typeof ring === "number" ? { minRingSize: ring } : {}),
    };
  }
  return { policy: "round-robin" };
}

function connectionPool(cp: Obj): { circuitBreaker?: CircuitBreaker; connectTimeoutMs?: number } {
  const tcp = (cp.tcp ?? {}) as Obj;
  const http = (cp.http ?? {}) as Obj;
  const num = (v: unknown) => (typeof v === "number" && v > 0 ? v : undefined);
  const cb: Record<string, number> = {};
  const set = (k: keyof CircuitBreaker, v: unknown) => {
    const n = num(v);
    if (n !== undefined) cb[k] = n;
  };
  set("maxConnections", tcp.maxConnections);
  set("maxPendingRequests", http.http1MaxPendingRequests);
  set("maxRequests", http.http2MaxRequests);
  set("maxRequestsPerConnection", http.maxRequestsPerConnection);
  set("maxRetries", http.maxRetries);
  return {
    ...(Object.keys(cb).length > 0 ? { circuitBreaker: cb as CircuitBreaker } : {}),
    ...(tcp.connectTimeout !== undefined
      ? { connectTimeoutMs: durationMs(tcp.connectTimeout, "connectionPool.tcp.connectTimeout") }
      : {}),
  };
}

function outlier(o: Obj, path: string): OutlierDetection {
  const errors = o.consecutive5xxErrors ?? o.consecutiveErrors;
  if (o.consecutiveGatewayErrors !== undefined)
    fieldFail(`${path}.consecutiveGatewayErrors`, "is not supported (use consecutive5xxErrors)");
  return {
    ...(typeof errors === "number" ? { consecutiveErrors: errors } : {}),
    ...(o.interval !== undefined ? { intervalMs: durationMs(o.interval, `${path}.interval`) } : {}),
    ...(o.baseEjectionTime !== undefined
      ? { baseEjectionMs: durationMs(o.baseEjectionTime, `${path}.baseEjectionTime`) }
      : {}),
    ...(typeof o.maxEjectionPercent === "number" ? { maxEjectionPercent: o.maxEjectionPercent } : {}),
  };
}

const TLS_MODES: Record<string, UpstreamTls["mode"]> = {
  DISABLE: "disable",
  SIMPLE: "simple",
  MUTUAL: "mutual",
  ISTIO_MUTUAL: "istio-mutual",
};

function tls(t: Obj, path: string): UpstreamTls {
  const mode = TLS_MODES[String(t.mode ?? "DISABLE")];
  if (!mode)
    fieldFail(`${path}.mode`, `must be DISABLE, SIMPLE, MUTUAL or ISTIO_MUTUAL, got ${JSON.stringify(t.mode)}`);
  for (const f of ["clientCertificate", "privateKey", "caCertificates"])
    if (t[f] !== undefined)
      fieldFail(
        `${path}.${f}`,
        "files on the proxy are not supported: give credentialName (a secret the pilot serves)",
      );
  if (mode === "mutual" && typeof t.credentialName !== "string")
    fieldFail(`${path}.credentialName`, "MUTUAL needs the secret with the client certificate");
  const sans = arr<string>(t.subjectAltNames);
  return {
    mode,
    ...(typeof t.credentialName === "string" ? { credentialName: t.credentialName } : {}),
    ...(typeof t.sni === "string" ? { sni: t.sni } : {}),
    ...(sans.length > 0 ? { subjectAltNames: sans } : {}),
  };
}

/** A `trafficPolicy` (or a port's, or a subset's) as the model's. */
export function trafficPolicy(tp: Obj, path: string): TrafficPolicy {
  const lb = tp.loadBalancer as Obj | undefined;
  const locality = lb?.localityLbSetting as Obj | undefined;
  if (locality && (arr(locality.distribute).length > 0 || arr(locality.failover).length > 0))
    fieldFail(
      `${path}.loadBalancer.localityLbSetting`,
      "distribute and failover lists are not supported (failover to the nearest locality is)",
    );
  const pool = tp.connectionPool ? connectionPool(tp.connectionPool as Obj) : {};
  return {
    ...(lb ? { loadBalancer: loadBalancer(lb, `${path}.loadBalancer`) } : {}),
    // Failover to the nearest locality when asked for explicitly: it builds
    // per locality (the controller's groupBy.locality), which Istio's
    // implicit default would impose on every host.
    ...(locality?.enabled === true ? { localityFailover: "nearest" as const } : {}),
    ...(tp.outlierDetection
      ? { outlierDetection: outlier(tp.outlierDetection as Obj, `${path}.outlierDetection`) }
      : {}),
    ...pool,
    ...(tp.tls ? { upstreamTls: tls(tp.tls as Obj, `${path}.tls`) } : {}),
  };
}

/** Converts a DestinationRule's spec. */
export function convertDestinationRule(spec: Obj, ctx: NameContext, label: string): DestinationPolicy {
  if (typeof spec.host !== "string" || spec.host === "") fieldFail("spec.host", "is required");
  if (spec.workloadSelector !== undefined) fieldFail("spec.workloadSelector", "is not supported by xdskit");
  const tp = spec.trafficPolicy as Obj | undefined;
  const ports: Record<string, TrafficPolicy> = {};
  arr<Obj>(tp?.portLevelSettings).forEach((p, i) => {
    const n = (p.port as Obj | undefined)?.number;
    if (typeof n !== "number") fieldFail(`spec.trafficPolicy.portLevelSettings[${i}].port.number`, "is required");
    ports[String(n)] = trafficPolicy(p, `spec.trafficPolicy.portLevelSettings[${i}]`);
  });
  const subsets = arr<Obj>(spec.subsets).map((s, i) => {
    const labels = strings(s.labels);
    if (!labels) fieldFail(`spec.subsets[${i}].labels`, "must select by at least one label");
    return {
      name: String(s.name ?? ""),
      labels,
      ...(s.trafficPolicy
        ? { trafficPolicy: trafficPolicy(s.trafficPolicy as Obj, `spec.subsets[${i}].trafficPolicy`) }
        : {}),
    };
  });
  return {
    host: resolveHost(spec.host, ctx),
    name: label,
    namespace: ctx.namespace,
    ...(tp ? { trafficPolicy: trafficPolicy(tp, "spec.trafficPolicy") } : {}),
    ...(Object.keys(ports).length > 0 ? { portPolicies: ports } : {}),
    ...(subsets.length > 0 ? { subsets } : {}),
    ...(exportTo(spec.exportTo) ? { exportTo: exportTo(spec.exportTo) as string[] } : {}),
  };
}
