// Reads what one resource refers to in other types: the basis of the
// registry's consistency check and structural validation, and of clients
// that follow listeners and clusters to their routes and endpoints.
import type { Message } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { unpackAny } from "./any.js";
import { TypeUrl } from "./type-url.js";
import { type Cluster, Cluster_DiscoveryType } from "./gen/envoy/config/cluster/v3/cluster_pb.js";
import type { Listener } from "./gen/envoy/config/listener/v3/listener_pb.js";
import type { RouteConfiguration } from "./gen/envoy/config/route/v3/route_pb.js";
import { HttpConnectionManagerSchema } from "./gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js";
import { TcpProxySchema } from "./gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy_pb.js";

/** One reference from a resource to a resource of another type. */
export interface Reference {
  readonly toType: string;
  readonly toName: string;
  /** How the reference is made, for error messages ("route", "weighted cluster", "rds"…). */
  readonly via: string;
}

const HCM_TYPE = `type.googleapis.com/${HttpConnectionManagerSchema.typeName}`;
const TCP_PROXY_TYPE = `type.googleapis.com/${TcpProxySchema.typeName}`;

function routeConfigRefs(rc: RouteConfiguration, out: Reference[]): void {
  for (const vh of rc.virtualHosts) {
    for (const route of vh.routes) {
      if (route.action.case !== "route") continue;
      const spec = route.action.value.clusterSpecifier;
      if (spec.case === "cluster") out.push({ toType: TypeUrl.Cluster, toName: spec.value, via: "route" });
      else if (spec.case === "weightedClusters") {
        for (const wc of spec.value.clusters) {
          out.push({ toType: TypeUrl.Cluster, toName: wc.name, via: "weighted cluster" });
        }
      }
    }
  }
}

function filterConfigRefs(any: Any | undefined, out: Reference[]): void {
  if (!any) return;
  if (any.typeUrl === HCM_TYPE) {
    const hcm = unpackAny(any, HttpConnectionManagerSchema);
    if (hcm.routeSpecifier.case === "rds") {
      out.push({ toType: TypeUrl.RouteConfiguration, toName: hcm.routeSpecifier.value.routeConfigName, via: "rds" });
    } else if (hcm.routeSpecifier.case === "routeConfig") {
      routeConfigRefs(hcm.routeSpecifier.value, out);
    }
  } else if (any.typeUrl === TCP_PROXY_TYPE) {
    const tcp = unpackAny(any, TcpProxySchema);
    if (tcp.clusterSpecifier.case === "cluster") {
      out.push({ toType: TypeUrl.Cluster, toName: tcp.clusterSpecifier.value, via: "tcp_proxy" });
    } else if (tcp.clusterSpecifier.case === "weightedClusters") {
      for (const wc of tcp.clusterSpecifier.value.clusters) {
        out.push({ toType: TypeUrl.Cluster, toName: wc.name, via: "tcp_proxy weighted cluster" });
      }
    }
  }
}

/** True when a cluster takes its endpoints from EDS. */
export function isEdsCluster(c: Cluster): boolean {
  return c.clusterDiscoveryType.case === "type" && c.clusterDiscoveryType.value === Cluster_DiscoveryType.EDS;
}

/** Lists what a resource of `typeUrl` refers to. Unknown types refer to nothing. */
export function referencesOf(typeUrl: string, message: Message): Reference[] {
  const out: Reference[] = [];
  switch (typeUrl) {
    case TypeUrl.Listener: {
      const l = message as Listener;
      filterConfigRefs(l.apiListener?.apiListener, out);
      const chains = l.defaultFilterChain ? [...l.filterChains, l.defaultFilterChain] : l.filterChains;
      for (const chain of chains) {
        for (const f of chain.filters) {
          if (f.configType.case === "typedConfig") filterConfigRefs(f.configType.value, out);
        }
      }
      break;
    }
    case TypeUrl.RouteConfiguration:
      routeConfigRefs(message as RouteConfiguration, out);
      break;
    case TypeUrl.Cluster: {
      const c = message as Cluster;
      if (isEdsCluster(c)) {
        out.push({
          toType: TypeUrl.ClusterLoadAssignment,
          toName: c.edsClusterConfig?.serviceName || c.name,
          via: "eds",
        });
      }
      break;
    }
  }
  return out;
}
