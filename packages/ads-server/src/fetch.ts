import { fromBinary } from "@bufbuild/protobuf";
import { type sendUnaryData, type ServerUnaryCall, status } from "@grpc/grpc-js";
import { assembleDiscoveryResponse, type EncodedResource, sotwBody } from "@xdskit/snapshot";
import { findResourceType } from "@xdskit/xds-types";
import {
  type DiscoveryRequest,
  DiscoveryRequestSchema,
} from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";
import type { StreamEnv } from "./stream.js";

/**
 * The unary `Fetch*` method of a per-type service (REST-style xDS): answers
 * with the current resources of the node's group. Empty names on a full-state
 * type mean every resource.
 */
export function serveFetch(
  env: StreamEnv,
  typeUrl: string,
  call: ServerUnaryCall<Buffer, Uint8Array>,
  callback: sendUnaryData<Uint8Array>,
): void {
  let req: DiscoveryRequest;
  try {
    req = fromBinary(DiscoveryRequestSchema, call.request);
  } catch (err) {
    callback({ code: status.INVALID_ARGUMENT, details: `malformed DiscoveryRequest: ${String(err)}` });
    return;
  }
  if (!req.node) {
    callback({ code: status.INVALID_ARGUMENT, details: "a fetch request must carry a node" });
    return;
  }
  if (req.typeUrl && req.typeUrl !== typeUrl) {
    callback({
      code: status.INVALID_ARGUMENT,
      details: `type_url "${req.typeUrl}" sent to the fetch method of ${typeUrl}`,
    });
    return;
  }
  if (req.resourceNames.length > env.maxResourceNamesPerRequest) {
    callback({ code: status.RESOURCE_EXHAUSTED, details: `too many resource names (${req.resourceNames.length})` });
    return;
  }
  const type = env.registry.resourceType?.(typeUrl) ?? findResourceType(typeUrl);
  const snap = env.registry.getSnapshot(env.registry.nodeGroup(req.node));
  const ts = snap?.get(typeUrl);
  if (!ts) {
    callback({
      code: status.UNAVAILABLE,
      details: `no ${type?.shortName ?? typeUrl} configuration for node "${req.node.id}" yet`,
    });
    return;
  }
  const wildcard = req.resourceNames.includes("*") || (req.resourceNames.length === 0 && (type?.fullState ?? false));
  const resources: EncodedResource[] = [];
  if (wildcard) resources.push(...ts.resources.values());
  else
    for (const n of req.resourceNames) {
      const r = ts.resources.get(n);
      if (r) resources.push(r);
    }
  callback(null, assembleDiscoveryResponse({ versionInfo: ts.version, typeUrl, nonce: "" }, sotwBody(resources)));
}
