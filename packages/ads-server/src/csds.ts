import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AnySchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
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
import type { StringMatcher } from "@xdskit/xds-types/gen/envoy/type/matcher/v3/string_pb";
import type { Connection } from "./connection.js";
import type { StreamEnv } from "./stream.js";

function matchString(m: StringMatcher | undefined, value: string): boolean {
  if (!m) return true;
  const v = m.ignoreCase ? value.toLowerCase() : value;
  const p = m.matchPattern;
  const norm = (s: string) => (m.ignoreCase ? s.toLowerCase() : s);
  switch (p.case) {
    case "exact":
      return v === norm(p.value);
    case "prefix":
      return v.startsWith(norm(p.value));
    case "suffix":
      return v.endsWith(norm(p.value));
    case "contains":
      return v.includes(norm(p.value));
    case "safeRegex":
      try {
        return new RegExp(`^(?:${p.value.regex})$`).test(value);
      } catch {
        return false;
      }
    default:
      return true;
  }
}

function selected(req: ClientStatusRequest, c: Connection): boolean {
  if (req.nodeMatchers.length === 0) return true;
  return req.nodeMatchers.some((m) => matchString(m.nodeId, c.nodeId));
}

/** Builds the CSDS view of the selected connections. */
export function clientStatus(env: StreamEnv, req: ClientStatusRequest): Uint8Array {
  const configs = [];
  for (const c of env.connections.connections()) {
    if (!c.node || !selected(req, c)) continue;
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
          ...(s.sentAt ? { lastUpdated: timestampFromDate(s.sentAt) } : {}),
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
        if (!req.excludeResourceContents && current && version === current.version) {
          entry.xdsConfig = fromBinary(AnySchema, current.anyBytes);
        }
        generic.push(entry);
      }
    }
    configs.push(create(ClientConfigSchema, { node: c.node, genericXdsConfigs: generic, clientScope: c.nodeGroup }));
  }
  return toBinary(ClientStatusResponseSchema, create(ClientStatusResponseSchema, { config: configs }));
}

function decodeRequest(buf: Buffer): ClientStatusRequest {
  return fromBinary(ClientStatusRequestSchema, buf);
}

/** Handlers of `envoy.service.status.v3.ClientStatusDiscoveryService`. */
export function csdsHandlers(env: StreamEnv) {
  return {
    StreamClientStatus(call: ServerDuplexStream<Buffer, Uint8Array>) {
      call.on("data", (chunk: Buffer) => {
        try {
          call.write(clientStatus(env, decodeRequest(chunk)));
        } catch (err) {
          call.emit("error", {
            code: status.INVALID_ARGUMENT,
            details: `malformed ClientStatusRequest: ${String(err)}`,
          });
        }
      });
      call.on("end", () => call.end());
      call.on("error", () => {});
    },
    FetchClientStatus(call: ServerUnaryCall<Buffer, Uint8Array>, callback: sendUnaryData<Uint8Array>) {
      let req: ClientStatusRequest;
      try {
        req = decodeRequest(call.request);
      } catch (err) {
        callback({ code: status.INVALID_ARGUMENT, details: `malformed ClientStatusRequest: ${String(err)}` });
        return;
      }
      callback(null, clientStatus(env, req));
    },
  };
}
