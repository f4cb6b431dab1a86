import type { DescService } from "@bufbuild/protobuf";
import { TypeUrl } from "@xdskit/xds-types";
import { ClusterDiscoveryService } from "@xdskit/xds-types/gen/envoy/service/cluster/v3/cds_pb";
import { AggregatedDiscoveryService } from "@xdskit/xds-types/gen/envoy/service/discovery/v3/ads_pb";
import { EndpointDiscoveryService } from "@xdskit/xds-types/gen/envoy/service/endpoint/v3/eds_pb";
import { ExtensionConfigDiscoveryService } from "@xdskit/xds-types/gen/envoy/service/extension/v3/config_discovery_pb";
import { ListenerDiscoveryService } from "@xdskit/xds-types/gen/envoy/service/listener/v3/lds_pb";
import {
  RouteDiscoveryService,
  VirtualHostDiscoveryService,
} from "@xdskit/xds-types/gen/envoy/service/route/v3/rds_pb";
import { ScopedRoutesDiscoveryService } from "@xdskit/xds-types/gen/envoy/service/route/v3/srds_pb";
import { RuntimeDiscoveryService } from "@xdskit/xds-types/gen/envoy/service/runtime/v3/rtds_pb";
import { SecretDiscoveryService } from "@xdskit/xds-types/gen/envoy/service/secret/v3/sds_pb";
import { ClientStatusDiscoveryService } from "@xdskit/xds-types/gen/envoy/service/status/v3/csds_pb";

/** The aggregated service (all types on one stream). */
export const adsService: DescService = AggregatedDiscoveryService;

/** The CSDS service. */
export const csdsService: DescService = ClientStatusDiscoveryService;

/** Per-type (non-aggregated) discovery services and the type each one serves. */
export const perTypeServices: readonly { readonly service: DescService; readonly typeUrl: string }[] = [
  { service: ClusterDiscoveryService, typeUrl: TypeUrl.Cluster },
  { service: EndpointDiscoveryService, typeUrl: TypeUrl.ClusterLoadAssignment },
  { service: ListenerDiscoveryService, typeUrl: TypeUrl.Listener },
  { service: RouteDiscoveryService, typeUrl: TypeUrl.RouteConfiguration },
  { service: ScopedRoutesDiscoveryService, typeUrl: TypeUrl.ScopedRouteConfiguration },
  { service: VirtualHostDiscoveryService, typeUrl: TypeUrl.VirtualHost },
  { service: SecretDiscoveryService, typeUrl: TypeUrl.Secret },
  { service: RuntimeDiscoveryService, typeUrl: TypeUrl.Runtime },
  { service: ExtensionConfigDiscoveryService, typeUrl: TypeUrl.ExtensionConfig },
];
