// A service with several ports, as builders see it: one single-port service
// per port ("a view"), with the port's protocol and each endpoint on the port
// it serves that service port on. Builders then build per view exactly as
// they build a single-port service; names stay unique because each view's
// clusters, listeners and routes carry its port.
import { frozenService } from "./frozen.js";
import type { Service, ServiceEndpoint } from "./model.js";
import { withTraffic } from "./push-policies.js";

const views = new WeakMap<Service, readonly Service[]>();

function endpointOn(e: ServiceEndpoint, port: number): ServiceEndpoint {
  if (!e.ports) return e;
  const { ports, ...rest } = e;
  return { ...rest, port: ports[String(port)] ?? e.port };
}

/**
 * The single-port views of a service: itself when it has no `ports`, else
 * one per port, in the order declared (the first is what a client naming no
 * port gets). Views of a frozen service are computed once and kept with it.
 */
export function portViewsOf(service: Service): readonly Service[] {
  if (!service.ports && !service.portPolicies) return [service];
  let out = views.get(service);
  if (!out) {
    const { ports, portPolicies, ...rest } = service;
    // A port's policy (a DestinationRule's portLevelSettings) over the service's.
    const on = (port: number | undefined, s: Service) =>
      frozenService(withTraffic(s, port === undefined ? undefined : portPolicies?.[String(port)]));
    out = Object.freeze(
      ports
        ? ports.map((p) =>
            on(p.port, {
              ...rest,
              port: p.port,
              ...((p.protocol ?? service.protocol) ? { protocol: p.protocol ?? service.protocol } : {}),
              endpoints: service.endpoints.map((e) => endpointOn(e, p.port)),
              // A DNS name is connected to on each port the service has.
              ...(service.dns ? { dns: { host: service.dns.host, port: p.port } } : {}),
            }),
          )
        : [on(service.port, rest)],
    );
    if (Object.isFrozen(service)) views.set(service, out);
  }
  return out;
}
