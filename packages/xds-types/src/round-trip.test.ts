import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type DescMessage, type Message, create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Cluster_DiscoveryType, ClusterSchema } from "./gen/envoy/config/cluster/v3/cluster_pb.js";
import { SocketAddress_Protocol } from "./gen/envoy/config/core/v3/address_pb.js";
import { TypedExtensionConfigSchema } from "./gen/envoy/config/core/v3/extension_pb.js";
import { ClusterLoadAssignmentSchema } from "./gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { ListenerSchema } from "./gen/envoy/config/listener/v3/listener_pb.js";
import { VirtualHostSchema } from "./gen/envoy/config/route/v3/route_components_pb.js";
import { RouteConfigurationSchema } from "./gen/envoy/config/route/v3/route_pb.js";
import { ScopedRouteConfigurationSchema } from "./gen/envoy/config/route/v3/scoped_route_pb.js";
import { RouterSchema } from "./gen/envoy/extensions/filters/http/router/v3/router_pb.js";
import { SecretSchema } from "./gen/envoy/extensions/transport_sockets/tls/v3/secret_pb.js";
import { RuntimeSchema } from "./gen/envoy/service/runtime/v3/rtds_pb.js";
import {
  httpConnectionManagerFilter,
  packAny,
  routerHttpFilter,
  upstreamTlsTransportSocket,
  packHttpConnectionManager,
} from "./index.js";
import { messageFromJson, messageToJson } from "./registry.js";
import { TypeUrl } from "./type-url.js";
import { findResourceType, resourceTypes } from "./resource-types.js";

const address = (host: string, port: number) => ({
  address: {
    case: "socketAddress" as const,
    value: {
      address: host,
      protocol: SocketAddress_Protocol.TCP,
      portSpecifier: { case: "portValue" as const, value: port },
    },
  },
});

/** One realistic message per resource type in the table. */
export const samples: Record<string, Message> = {
  [TypeUrl.Cluster]: create(ClusterSchema, {
    name: "outbound|8080||echo.default",
    clusterDiscoveryType: { case: "type", value: Cluster_DiscoveryType.EDS },
    edsClusterConfig: { edsConfig: { configSourceSpecifier: { case: "ads", value: {} } }, serviceName: "echo" },
    connectTimeout: create(DurationSchema, { seconds: 5n }),
    transportSocket: upstreamTlsTransportSocket({
      sni: "echo.default.svc",
      commonTlsContext: { alpnProtocols: ["h2"] },
    }),
  }),
  [TypeUrl.ClusterLoadAssignment]: create(ClusterLoadAssignmentSchema, {
    clusterName: "echo",
    endpoints: [
      {
        locality: { region: "eu-west1", zone: "eu-west1-b" },
        loadBalancingWeight: 3,
        lbEndpoints: [
          {
            hostIdentifier: { case: "endpoint", value: { address: address("10.0.0.1", 8080) } },
            loadBalancingWeight: 1,
          },
          {
            hostIdentifier: { case: "endpoint", value: { address: address("10.0.0.2", 8080) } },
            loadBalancingWeight: 2,
          },
        ],
      },
      {
        locality: { region: "eu-west1", zone: "eu-west1-c" },
        priority: 1,
        lbEndpoints: [{ hostIdentifier: { case: "endpoint", value: { address: address("10.0.1.1", 8080) } } }],
      },
    ],
  }),
  [TypeUrl.Listener]: create(ListenerSchema, {
    name: "0.0.0.0_8080",
    address: address("0.0.0.0", 8080),
    filterChains: [
      {
        filters: [
          httpConnectionManagerFilter({
            statPrefix: "outbound_8080",
            routeSpecifier: {
              case: "rds",
              value: { routeConfigName: "8080", configSource: { configSourceSpecifier: { case: "ads", value: {} } } },
            },
            httpFilters: [routerHttpFilter()],
          }),
        ],
      },
    ],
  }),
  [TypeUrl.RouteConfiguration]: create(RouteConfigurationSchema, {
    name: "8080",
    virtualHosts: [
      {
        name: "echo",
        domains: ["echo", "echo:8080"],
        routes: [
          {
            match: { pathSpecifier: { case: "prefix", value: "/" } },
            action: {
              case: "route",
              value: {
                clusterSpecifier: {
                  case: "weightedClusters",
                  value: {
                    clusters: [
                      { name: "echo-v1", weight: 80 },
                      { name: "echo-v2", weight: 20 },
                    ],
                  },
                },
                timeout: { seconds: 2n },
              },
            },
          },
        ],
      },
    ],
  }),
  [TypeUrl.ScopedRouteConfiguration]: create(ScopedRouteConfigurationSchema, {
    name: "scope-a",
    routeConfigurationName: "8080",
    key: { fragments: [{ type: { case: "stringKey", value: "tenant-a" } }] },
  }),
  [TypeUrl.VirtualHost]: create(VirtualHostSchema, {
    name: "8080/echo",
    domains: ["echo"],
    routes: [
      {
        match: { pathSpecifier: { case: "path", value: "/echo.Echo/Say" } },
        action: { case: "directResponse", value: { status: 200 } },
      },
    ],
  }),
  [TypeUrl.Secret]: create(SecretSchema, {
    name: "default",
    type: {
      case: "tlsCertificate",
      value: {
        certificateChain: {
          specifier: { case: "inlineString", value: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" },
        },
      },
    },
  }),
  [TypeUrl.Runtime]: create(RuntimeSchema, {
    name: "rtds-layer",
    layer: { "re2.max_program_size.error_level": 1000, "envoy.reloadable_features.example": true },
  }),
  [TypeUrl.ExtensionConfig]: create(TypedExtensionConfigSchema, {
    name: "envoy.filters.http.router",
    typedConfig: packAny(RouterSchema, { suppressEnvoyHeaders: true }),
  }),
};

describe("resource-type table", () => {
  it("resolves every TypeUrl constant to a schema whose name matches the URL", () => {
    for (const url of Object.values(TypeUrl)) {
      const type = findResourceType(url);
      assert.ok(type, `no table entry for ${url}`);
      assert.equal(`type.googleapis.com/${type.schema.typeName}`, url);
    }
    assert.equal(resourceTypes.size, Object.keys(TypeUrl).length);
  });

  it("marks exactly Listener and Cluster as full-state", () => {
    const full = [...resourceTypes.values()].filter((t) => t.fullState).map((t) => t.shortName);
    assert.deepEqual(full.sort(), ["CDS", "LDS"]);
  });

  it("reads the name clients subscribe to", () => {
    assert.equal(
      findResourceType(TypeUrl.ClusterLoadAssignment)?.nameOf(samples[TypeUrl.ClusterLoadAssignment]!),
      "echo",
    );
    assert.equal(findResourceType(TypeUrl.Cluster)?.nameOf(samples[TypeUrl.Cluster]!), "outbound|8080||echo.default");
  });
});

describe("round trips", () => {
  for (const [url, message] of Object.entries(samples)) {
    const type = findResourceType(url);
    if (!type) throw new Error(`sample for ${url} has no table entry`);
    it(`${type.shortName}: binary encode/decode is lossless`, () => {
      const bytes = toBinary(type.schema, message);
      assert.ok(bytes.length > 10);
      const back = fromBinary(type.schema, bytes);
      assert.ok(equals(type.schema as DescMessage, back, message));
      assert.deepEqual(toBinary(type.schema, back), bytes);
    });
    it(`${type.shortName}: JSON round trip (Any resolved through the registry) is lossless`, () => {
      const json = messageToJson(type.schema, message);
      const back = messageFromJson(type.schema, json);
      assert.ok(equals(type.schema as DescMessage, back, message));
    });
  }

  it("JSON of a Listener shows the HCM by its type, not as opaque bytes", () => {
    const json = messageToJson(ListenerSchema, samples[TypeUrl.Listener]!) as {
      filterChains: { filters: { typedConfig: Record<string, unknown> }[] }[];
    };
    const typed = json.filterChains[0]?.filters[0]?.typedConfig;
    assert.equal(
      typed?.["@type"],
      "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    );
    assert.equal(typed?.["statPrefix"], "outbound_8080");
  });

  it("a packed HCM carries its type URL", () => {
    const any = packHttpConnectionManager({ statPrefix: "x" });
    assert.match(any.typeUrl, /HttpConnectionManager$/);
  });
});
