// Destination policies (Istio's DestinationRules) merged over the services
// they name: a policy set from outside a service reads, to builders, exactly
// as if the service carried it. Each merge is remembered per service and
// policy object, so an unchanged pair is the same frozen service every push
// (and what was built from it is reused).
import { frozenService } from "./frozen.js";
import type { Service } from "./model.js";
import type { DestinationPolicy, TrafficPolicy } from "./policy.js";

const merged = new WeakMap<Service, WeakMap<DestinationPolicy, Service>>();

/** The service's own fields with a traffic policy's over them. */
export function withTraffic<T extends Service>(s: T, tp: TrafficPolicy | undefined): T {
  if (!tp) return s;
  return {
    ...s,
    ...(tp.loadBalancer ? { loadBalancer: tp.loadBalancer } : {}),
    ...(tp.localityFailover ? { localityFailover: tp.localityFailover } : {}),
    ...(tp.outlierDetection ? { outlierDetection: tp.outlierDetection } : {}),
    ...(tp.circuitBreaker ? { circuitBreaker: tp.circuitBreaker } : {}),
    ...(tp.connectTimeoutMs !== undefined ? { connectTimeoutMs: tp.connectTimeoutMs } : {}),
    ...(tp.upstreamTls ? { upstreamTls: tp.upstreamTls } : {}),
  };
}

/** A service with the policy for its host over it (the service itself without one). */
export function withPolicy(s: Service, policy: DestinationPolicy | undefined): Service {
  if (!policy) return s;
  let byPolicy = merged.get(s);
  if (!byPolicy) {
    byPolicy = new WeakMap();
    merged.set(s, byPolicy);
  }
  const hit = byPolicy.get(policy);
  if (hit) return hit;
  const base = withTraffic(s, policy.trafficPolicy);
  const out = frozenService({
    ...base,
    ...(policy.subsets ? { subsets: policy.subsets } : {}),
    ...(policy.portPolicies ? { portPolicies: { ...(s.portPolicies ?? {}), ...policy.portPolicies } } : {}),
  });
  byPolicy.set(policy, out);
  return out;
}
