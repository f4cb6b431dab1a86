// A client tool pointed at another control plane meets extensions it has no
// type for (istiod's ALPN filter, say): the JSON shows those as type URL and
// bytes, and everything else as usual.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ListenerSchema } from "./gen/envoy/config/listener/v3/listener_pb.js";
import { httpConnectionManagerFilter, packHttpConnectionManager, routerHttpFilter } from "./extensions.js";
import { messageToJson, messageToJsonTolerant } from "./registry.js";

const ALPN = "type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig";

describe("JSON of messages holding unknown extensions", () => {
  it("shows an unknown Any nested in a known one as its type URL and bytes, the rest as JSON", () => {
    const listener = create(ListenerSchema, {
      name: "0.0.0.0_8080",
      filterChains: [
        {
          filters: [
            httpConnectionManagerFilter({
              statPrefix: "outbound",
              httpFilters: [
                {
                  name: "istio.alpn",
                  configType: {
                    case: "typedConfig",
                    value: { typeUrl: ALPN, value: new Uint8Array([10, 2, 104, 50]) },
                  },
                },
                routerHttpFilter(),
              ],
            }),
          ],
        },
      ],
    });
    assert.throws(() => messageToJson(ListenerSchema, listener), /not in the type registry/);
    const { json, unknownTypes } = messageToJsonTolerant(ListenerSchema, listener);
    assert.deepEqual(unknownTypes, [ALPN]);
    type Hcm = { statPrefix: string; httpFilters: { name: string }[] };
    const hcm = (json as { filterChains: { filters: { typedConfig: Hcm }[] }[] }).filterChains[0]?.filters[0]
      ?.typedConfig as Hcm;
    assert.equal(hcm.statPrefix, "outbound");
    assert.deepEqual(hcm.httpFilters[0], {
      name: "istio.alpn",
      typedConfig: {
        "@type": ALPN,
        "@unknownType": "not in this client's type registry: raw bytes",
        value: "CgJoMg==",
      },
    });
    assert.equal(hcm.httpFilters[1]?.name, "envoy.filters.http.router");
  });

  it("is the plain conversion when every type is known", () => {
    const any = packHttpConnectionManager({ statPrefix: "x", httpFilters: [routerHttpFilter()] });
    const l = create(ListenerSchema, { name: "l", apiListener: { apiListener: any } });
    assert.deepEqual(messageToJsonTolerant(ListenerSchema, l), {
      json: messageToJson(ListenerSchema, l),
      unknownTypes: [],
    });
  });
});
