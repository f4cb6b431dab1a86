// Names, ports and small message pieces every builder shares.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import type { DurationSchema } from "@bufbuild/protobuf/wkt";
import { packAny } from "@xdskit/xds-types";
import type { AddressSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/address_pb";
import { ApiVersion, type ConfigSourceSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/config_source_pb";
import { CorsSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/http/cors/v3/cors_pb";
import { HTTPFaultSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/http/fault/v3/fault_pb";
import {
  type HttpFilter,
  HttpFilterSchema,
} from "@xdskit/xds-types/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb";
import {
  type FractionalPercentSchema,
  FractionalPercent_DenominatorType,
} from "@xdskit/xds-types/gen/envoy/type/v3/percent_pb";
import type { Service } from "../model.js";
import type { PushContext } from "../push-context.js";

/** Where a sidecar's iptables rules send outbound connections (Istio's convention). */
export const OUTBOUND_CAPTURE_PORT = 15001;
/** Where a sidecar's iptables rules send inbound connections. */
export const INBOUND_CAPTURE_PORT = 15006;
/** Original-destination cluster for outbound traffic to destinations the mesh does not know. */
export const PASSTHROUGH_CLUSTER = "PassthroughCluster";
/** Original-destination cluster for inbound traffic to ports no service declares. */
export const INBOUND_PASSTHROUGH_CLUSTER = "InboundPassthroughCluster";
/** A cluster with no endpoints: traffic sent there fails at once. */
export const BLACKHOLE_CLUSTER = "BlackHoleCluster";
/** The HTTP fault filter's name (Envoy and gRPC clients read per-route fault config under it). */
export const FAULT_FILTER = "envoy.filters.http.fault";
/** The CORS filter's name (Envoy reads per-route CORS policies under it). */
export const CORS_FILTER = "envoy.filters.http.cors";

/** The cluster name of a service, in Istio's `outbound|port||host` form. */
export function clusterName(service: Service, push: PushContext): string {
  return `outbound|${push.portOf(service)}||${service.name}`;
}

/** The cluster of one subset of a service: `outbound|port|subset|host`, as Istio names it. */
export function subsetClusterName(service: Service, subset: string, push: PushContext): string {
  return `outbound|${push.portOf(service)}|${subset}|${service.name}`;
}

/** The parts of a cluster name in Istio's `direction|port|subset|host` form. */
export interface ClusterNameParts {
  readonly direction: "outbound" | "inbound";
  readonly port: number;
  /** Empty for a service's own cluster. */
  readonly subset: string;
  /** The service name (empty for an inbound cluster). */
  readonly host: string;
}

/**
 * Reads a cluster name of Istio's form (`outbound|8080|v2|echo`,
 * `inbound|8080||`); undefined for any other name (passthrough clusters,
 * a host's own).
 */
export function parseClusterName(name: string): ClusterNameParts | undefined {
  const parts = name.split("|");
  if (parts.length !== 4) return undefined;
  const [direction, port, subset, host] = parts as [string, string, string, string];
  if ((direction !== "outbound" && direction !== "inbound") || !/^[0-9]{1,5}$/.test(port)) return undefined;
  return { direction, port: Number(port), subset, host };
}

/** The cluster that reaches the workload's own port on the loopback. */
export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}

/** A socket address. */
export function socketAddress(address: string, port: number): MessageInitShape<typeof AddressSchema> {
  return { address: { case: "socketAddress", value: { address, portSpecifier: { case: "portValue", value: port } } } };
}

/** Config from the ADS stream the client already has. */
export const ADS: MessageInitShape<typeof ConfigSourceSchema> = {
  configSourceSpecifier: { case: "ads", value: {} },
  resourceApiVersion: ApiVersion.V3,
};

/** A duration from milliseconds. */
export function duration(ms: number): MessageInitShape<typeof DurationSchema> {
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

/** A percentage (0–100, fractions allowed) as a FractionalPercent per million. */
export function fraction(percent: number): MessageInitShape<typeof FractionalPercentSchema> {
  return { numerator: Math.round(percent * 10_000), denominator: FractionalPercent_DenominatorType.MILLION };
}

/** The HTTP fault filter with no fault of its own: routes switch faults on by their per-filter config. */
export function faultHttpFilter(): HttpFilter {
  return create(HttpFilterSchema, {
    name: FAULT_FILTER,
    configType: { case: "typedConfig", value: packAny(HTTPFaultSchema, {}) },
  });
}

/** The CORS filter: it acts only on routes carrying a CORS policy. */
export function corsHttpFilter(): HttpFilter {
  return create(HttpFilterSchema, {
    name: CORS_FILTER,
    configType: { case: "typedConfig", value: packAny(CorsSchema, {}) },
  });
}
