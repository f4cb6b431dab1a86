import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type MessageInitShape, create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import {
  type Cluster,
  Cluster_DiscoveryType,
  type Cluster_LbPolicy,
  ClusterSchema,
} from "./gen/envoy/config/cluster/v3/cluster_pb.js";
import { ClusterLoadAssignmentSchema } from "./gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { UpstreamHttpProtocolOptionsSchema } from "./gen/envoy/config/core/v3/protocol_pb.js";
import { ListenerSchema } from "./gen/envoy/config/listener/v3/listener_pb.js";
import { RouteConfigurationSchema } from "./gen/envoy/config/route/v3/route_pb.js";
import { RegexMatcherSchema } from "./gen/envoy/type/matcher/v3/regex_pb.js";
import { httpConnectionManagerFilter, routerHttpFilter } from "./index.js";
import { HttpProtocolOptionsSchema } from "./gen/envoy/extensions/upstreams/http/v3/http_protocol_options_pb.js";
import { xdsRegistry } from "./registry.js";
import { checkRules, declaresRules } from "./rules.js";

const cluster = (init: Exclude<MessageInitShape<typeof ClusterSchema>, Cluster> = {}) =>
  create(ClusterSchema, {
    name: "c",
    clusterDiscoveryType: { case: "type", value: Cluster_DiscoveryType.EDS },
    connectTimeout: { seconds: 1n },
    ...init,
  });

const claWithPort = (port: number, host = "10.0.0.1") =>
  create(ClusterLoadAssignmentSchema, {
    clusterName: "c",
    endpoints: [
      {
        lbEndpoints: [
          {
            hostIdentifier: {
              case: "endpoint",
              value: {
                address: {
                  address: {
                    case: "socketAddress",
                    value: { address: host, portSpecifier: { case: "portValue", value: port } },
                  },
                },
              },
            },
          },
        ],
      },
    ],
  });

const listener = (statPrefix: string) =>
  create(ListenerSchema, {
    name: "l",
    address: {
      address: {
        case: "socketAddress",
        value: { address: "0.0.0.0", portSpecifier: { case: "portValue", value: 8080 } },
      },
    },
    filterChains: [
      {
        filters: [
          httpConnectionManagerFilter({
            statPrefix,
            routeSpecifier: {
              case: "rds",
              value: { routeConfigName: "r", configSource: { configSourceSpecifier: { case: "ads", value: {} } } },
            },
            httpFilters: [routerHttpFilter()],
          }),
        ],
      },
    ],
  });

describe("protoc-gen-validate rules", () => {
  it("finds nothing wrong with valid resources", () => {
    assert.deepEqual(checkRules(ClusterSchema, cluster()), []);
    assert.deepEqual(checkRules(ClusterLoadAssignmentSchema, claWithPort(8080)), []);
    assert.deepEqual(checkRules(ListenerSchema, listener("ingress"), { registry: xdsRegistry }), []);
  });

  it("string lengths, duration bounds and defined enums, with proto field paths", () => {
    const bad = cluster({ name: "", connectTimeout: { seconds: 0n }, lbPolicy: 99 as Cluster_LbPolicy });
    assert.deepEqual(checkRules(ClusterSchema, bad), [
      { path: "name", message: "must be at least 1 characters long" },
      { path: "connect_timeout", message: "must be greater than 0s" },
      { path: "lb_policy", message: "must be a defined enum value, not 99" },
    ]);
  });

  it("numeric bounds deep inside oneofs", () => {
    const v = checkRules(ClusterLoadAssignmentSchema, claWithPort(70000, ""));
    assert.deepEqual(v, [
      {
        path: "endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address",
        message: "must be at least 1 characters long",
      },
      {
        path: "endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value",
        message: "must be at most 65535",
      },
    ]);
  });

  it("required messages, required oneofs, list sizes and well-known strings", () => {
    const rc = create(RouteConfigurationSchema, {
      name: "r",
      virtualHosts: [
        { name: "vh", domains: [] },
        { name: "vh2", domains: ["bad\nhost"], routes: [{}] },
      ],
    });
    assert.deepEqual(checkRules(RouteConfigurationSchema, rc), [
      { path: "virtual_hosts[0].domains", message: "must have at least 1 item(s), has 0" },
      { path: "virtual_hosts[1].domains[0]", message: "must be free of NUL, CR and LF" },
      {
        path: "virtual_hosts[1].routes[0].action",
        message: "one of route, redirect, direct_response, filter_action, non_forwarding_action must be set",
      },
      { path: "virtual_hosts[1].routes[0].match", message: "is required" },
    ]);
  });

  it("checks a oneof member only when it is the one selected", () => {
    // RouteMatch's safe_regex is a required message, but only when the path is matched by regex.
    const rc = create(RouteConfigurationSchema, {
      name: "r",
      virtualHosts: [
        {
          name: "vh",
          domains: ["*"],
          routes: [
            {
              match: { pathSpecifier: { case: "prefix", value: "/" } },
              action: { case: "route", value: { clusterSpecifier: { case: "cluster", value: "c" } } },
            },
          ],
        },
      ],
    });
    assert.deepEqual(checkRules(RouteConfigurationSchema, rc), []);
    const route = rc.virtualHosts[0]?.routes[0];
    if (route?.match)
      route.match.pathSpecifier = { case: "safeRegex", value: create(RegexMatcherSchema, { regex: "" }) };
    assert.deepEqual(checkRules(RouteConfigurationSchema, rc), [
      { path: "virtual_hosts[0].routes[0].match.safe_regex.regex", message: "must be at least 1 characters long" },
    ]);
  });

  it("ignore_empty: an empty value skips the rules, a non-empty one is checked", () => {
    // UpstreamHttpProtocolOptions.override_auto_sni_header: a header name, or nothing.
    assert.deepEqual(checkRules(UpstreamHttpProtocolOptionsSchema, create(UpstreamHttpProtocolOptionsSchema)), []);
    assert.deepEqual(
      checkRules(
        UpstreamHttpProtocolOptionsSchema,
        create(UpstreamHttpProtocolOptionsSchema, { overrideAutoSniHeader: "bad header" }),
      ),
      [{ path: "override_auto_sni_header", message: "must be a valid HTTP header name" }],
    );
  });

  it("looks inside Any fields whose type the given registry knows", () => {
    const l = listener("");
    assert.deepEqual(checkRules(ListenerSchema, l), [], "without a registry, Any contents are opaque");
    assert.deepEqual(checkRules(ListenerSchema, l, { registry: xdsRegistry }), [
      {
        path: "filter_chains[0].filters[0].typed_config(envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager).stat_prefix",
        message: "must be at least 1 characters long",
      },
    ]);
  });

  it("walks map values, with the key in the path, and Any contents inside them", () => {
    const name = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
    const c = cluster({
      typedExtensionProtocolOptions: {
        [name]: anyPack(HttpProtocolOptionsSchema, create(HttpProtocolOptionsSchema)),
      },
      name: "",
    });
    assert.deepEqual(checkRules(ClusterSchema, c, { registry: xdsRegistry }), [
      { path: "name", message: "must be at least 1 characters long" },
      {
        path: `typed_extension_protocol_options["${name}"](${name}).upstream_protocol_options`,
        message: "one of explicit_http_config, use_downstream_protocol_config, auto_config must be set",
      },
    ]);
  });

  it("reports an Any that does not decode", () => {
    const l = listener("x");
    const any = l.filterChains[0]?.filters[0]?.configType;
    assert.equal(any?.case, "typedConfig");
    if (any?.case === "typedConfig") any.value.value = new Uint8Array([0xff, 0xff, 0xff]);
    const v = checkRules(ListenerSchema, l, { registry: xdsRegistry });
    assert.equal(v.length, 1);
    assert.match(v[0]?.message ?? "", /holds a envoy\.extensions.*HttpConnectionManager that does not decode/);
  });

  it("stops at the limit", () => {
    const rc = create(RouteConfigurationSchema, {
      virtualHosts: Array.from({ length: 50 }, (_, i) => ({ name: `vh${i}`, domains: [] })),
    });
    assert.equal(checkRules(RouteConfigurationSchema, rc).length, 20);
    assert.equal(checkRules(RouteConfigurationSchema, rc, { limit: 3 }).length, 3);
  });

  it("compiles the rules of every generated message without throwing", () => {
    let withRules = 0;
    let total = 0;
    for (const type of xdsRegistry) {
      if (type.kind !== "message") continue;
      total++;
      if (declaresRules(type)) withRules++;
      // A default message is checked against every rule its fields declare.
      checkRules(type, create(type), { registry: xdsRegistry });
    }
    assert.ok(total > 1000, `only ${total} message types`);
    assert.ok(withRules > 300, `only ${withRules} message types declare rules`);
  });
});
