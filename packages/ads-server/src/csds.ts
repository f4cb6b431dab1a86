import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AnySchema, timestampFromDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { sendUnaryData, ServerDuplexStream, ServerUnaryCall } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { ClientResourceStatus } from "@xdskit/xds-types/gen/envoy/admin/v3/config_dump_shared_pb";
import {
  type ClientConfig_GenericXdsConfig,
  ClientConfig_GenericXdsConfigSchema,
  ClientConfigSchema,
  type ClientStatusRequest,
  ClientStatusRequestSchema,
  ClientStatusResponseSchema,
  ConfigStatus,
} from "@xdskit/xds-types/gen/envoy/service/status/v3/csds_pb";
import { XdsError } from "@xdskit/xds-types";
import type { Connection } from "./connection.js";
import { compileStringMatcher } from "./string-match.js";
import type { StreamEnv } from "./stream.js";

const SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

// Bounds the work one request can ask for.
const MAX_NODE_MATCHERS = 64;

/** Which connections a request selects; throws `invalid_argument` for matchers it cannot run. */
function selector(req: ClientStatusRequest): (c: Connection) => boolean {
  if (req.nodeMatchers.length === 0) return () => true;
  if (req.nodeMatchers.length > MAX_NODE_MATCHERS) {
    throw new XdsError(
      "invalid_argument",
      `node_matchers has ${req.nodeMatchers.length} entries; the limit is ${MAX_NODE_MATCHERS}`,
    );
  }
  const matchers = req.nodeMatchers.map((m, i) => compileStringMatcher(m.nodeId, `node_matchers[${i}].node_id`));
  return (c) => matchers.some((match) => match(c.nodeId));
}

/** Builds the CSDS view of the selected connections. */
export function clientStatus(env: StreamEnv, req: ClientStatusRequest): Uint8Array {
  const selected = selector(req);
  const configs = [];
  for (const c of env.connections.connections()) {
    if (!c.node || !selected(c)) continue;
    const snap = env.registry.getSnapshot(c.nodeGroup);
    const generic: ClientConfig_GenericXdsConfig[] = [];
    for (const s of c.types.values()) {
      const nacked = s.lastNack !== undefined && s.lastNack.nonce === s.sentNonce;
      const names = s.wildcard ? [...new Set([...s.sentVersions.keys(), ...s.names])] : [...s.names];
      for (const name of names) {
        const version = s.sentVersions.get(name);
        const current = snap?.get(s.typeUrl)?.resources.get(name);
        let clientStatus: ClientResourceStatus;
        let configStatus: ConfigStatus;
        if (version === undefined) {
          clientStatus =
            s.sentNonce !== undefined && !current
              ? ClientResourceStatus.DOES_NOT_EXIST
              : ClientResourceStatus.REQUESTED;
          configStatus = ConfigStatus.NOT_SENT;
        } else if (nacked) {
          clientStatus = ClientResourceStatus.NACKED;
          configStatus = ConfigStatus.ERROR;
        } else if (s.ackedVersion !== undefined && s.ackedVersion === s.sentVersion) {
          clientStatus = ClientResourceStatus.ACKED;
          configStatus = ConfigStatus.SYNCED;
        } else {
          clientStatus = ClientResourceStatus.REQUESTED;
          configStatus = ConfigStatus.STALE;
        }
        const entry = create(ClientConfig_GenericXdsConfigSchema, {
          typeUrl: s.typeUrl,
          name,
          versionInfo: version ?? "",
          configStatus,
          clientStatus,
          ...(s.sentAt ? { lastUpdated: timestampFromMs(s.sentAt) } : {}),
          ...(nacked && s.lastNack
            ? {
                errorState: {
                  details: s.lastNack.errorMessage,
                  versionInfo: s.lastNack.version,
                  lastUpdateAttempt: timestampFromDate(s.lastNack.at),
                },
              }
            : {}),
        });
        // Secrets hold private keys: their status is reported, never their contents.
        if (!req.excludeResourceContents && current && version === current.version && s.typeUrl !== SECRET) {
          entry.xdsConfig = fromBinary(AnySchema, current.anyBytes);
        }
        generic.push(entry);
      }
    }
    // CSDS has no field for who the client proved to be: it travels in the node's metadata.
    const node = c.identity
      ? {
          ...c.node,
          metadata: {
            ...(c.node.metadata ?? {}),
            "xdskit.identity": {
              ...c.identity,
              uriSans: [...c.identity.uriSans],
              dnsSans: [...c.identity.dnsSans],
              spiffeId: c.identity.spiffeId ?? null,
            },
          },
        }
      : c.node;
    configs.push(create(ClientConfigSchema, { node, genericXdsConfigs: generic, clientScope: c.nodeGroup }));
  }
  return toBinary(ClientStatusResponseSchema, create(ClientStatusResponseSchema, { config: configs }));
}

function decodeRequest(buf: Buffer): ClientStatusRequest {
  try {
    return fromBinary(ClientStatusRequestSchema, buf);
  } catch (err) {
    throw new XdsError("invalid_argument", `malformed ClientStatusRequest: ${String(err)}`);
  }
}

/** The gRPC status of a failed CSDS request: the client's mistake, or ours. */
function failure(err: unknown): { code: status; details: string } {
  if (err instanceof XdsError && err.code === "invalid_argument") {
    return { code: status.INVALID_ARGUMENT, details: err.message };
  }
  return { code: status.INTERNAL, details: `the control plane failed to answer: ${String(err)}` };
}

/** Handlers of `envoy.service.status.v3.ClientStatusDiscoveryService`. */
export function csdsHandlers(env: StreamEnv) {
  return {
    StreamClientStatus(call: ServerDuplexStream<Buffer, Uint8Array>) {
      call.on("data", (chunk: Buffer) => {
        try {
          call.write(clientStatus(env, decodeRequest(chunk)));
        } catch (err) {
          call.emit("error", failure(err));
        }
      });
      call.on("end", () => call.end());
      call.on("error", () => {});
    },
    FetchClientStatus(call: ServerUnaryCall<Buffer, Uint8Array>, callback: sendUnaryData<Uint8Array>) {
      try {
        callback(null, clientStatus(env, decodeRequest(call.request)));
      } catch (err) {
        callback(failure(err));
      }
    },
  };
}
