import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { RouterSchema } from "./gen/envoy/extensions/filters/http/router/v3/router_pb.js";
import { HttpConnectionManagerSchema } from "./gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js";
import { UpstreamTlsContextSchema } from "./gen/envoy/extensions/transport_sockets/tls/v3/tls_pb.js";
import { RBACSchema } from "./gen/envoy/extensions/filters/http/rbac/v3/rbac_pb.js";
import { RBAC_ActionSchema } from "./gen/envoy/config/rbac/v3/rbac_pb.js";
import {
  XdsError,
  packAny,
  packHttpConnectionManager,
  routerHttpFilter,
  unpackAny,
  unpackHttpConnectionManager,
  unpackUpstreamTlsContext,
  upstreamTlsTransportSocket,
} from "./index.js";
import { unpackAnyDynamic, xdsRegistry } from "./registry.js";

describe("typed extension configs", () => {
  it("packs and unpacks an HCM with its router filter", () => {
    const any = packHttpConnectionManager({ statPrefix: "ingress", httpFilters: [routerHttpFilter()] });
    const hcm = unpackHttpConnectionManager(any);
    assert.equal(hcm.statPrefix, "ingress");
    const router = hcm.httpFilters[0];
    assert.equal(router?.name, "envoy.filters.http.router");
    assert.equal(router?.configType.case, "typedConfig");
  });

  it("unpacks any type through the full registry", () => {
    const any = packAny(RouterSchema, { suppressEnvoyHeaders: true });
    const msg = unpackAnyDynamic(any);
    assert.equal(msg.$typeName, "envoy.extensions.filters.http.router.v3.Router");
    assert.equal((msg as unknown as { suppressEnvoyHeaders: boolean }).suppressEnvoyHeaders, true);
  });

  it("packs an RBAC filter (generated from protos that needed google/api/expr)", () => {
    const any = packAny(RBACSchema, { rules: { action: 1, policies: {} } });
    const back = unpackAny(any, RBACSchema);
    assert.equal(back.rules?.action, 1);
    assert.ok(xdsRegistry.getEnum(RBAC_ActionSchema.typeName));
  });

  it("reads the TLS context back out of a transport socket", () => {
    const socket = upstreamTlsTransportSocket({ sni: "api.internal" });
    assert.equal(unpackUpstreamTlsContext(socket).sni, "api.internal");
    assert.equal(socket.name, "envoy.transport_sockets.tls");
    assert.ok(xdsRegistry.getMessage(UpstreamTlsContextSchema.typeName));
  });

  it("refuses to unpack an Any of another type, naming both", () => {
    const any = packAny(RouterSchema, {});
    assert.throws(
      () => unpackAny(any, HttpConnectionManagerSchema),
      (err: unknown) =>
        err instanceof XdsError &&
        err.code === "type_mismatch" &&
        err.message.includes("HttpConnectionManager") &&
        err.message.includes("envoy.extensions.filters.http.router.v3.Router"),
    );
  });

  it("reports garbage inside an Any as decode_failed", () => {
    const any = create(AnySchema, {
      typeUrl: "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
      value: new Uint8Array([0x0a, 0xff, 0xff, 0xff]),
    });
    assert.throws(
      () => unpackAny(any, RouterSchema),
      (e: unknown) => e instanceof XdsError && e.code === "decode_failed",
    );
    assert.throws(
      () => unpackAnyDynamic(any),
      (e: unknown) => e instanceof XdsError && e.code === "decode_failed",
    );
  });

  it("refuses an Any of a type nobody generated", () => {
    const any = create(AnySchema, {
      typeUrl: "type.googleapis.com/acme.Nope",
      value: toBinary(RouterSchema, create(RouterSchema)),
    });
    assert.throws(
      () => unpackAnyDynamic(any),
      (e: unknown) => e instanceof XdsError && e.code === "unknown_type_url",
    );
  });
});
