import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type ClientStatusResponse,
  ClientStatusRequestSchema,
  ClientStatusResponseSchema,
} from "@xdskit/xds-types/gen/envoy/service/status/v3/csds_pb";
import { type ConnectionSecurity, channelCredentials } from "./credentials.js";

const FETCH_PATH = "/envoy.service.status.v3.ClientStatusDiscoveryService/FetchClientStatus";

/** Options of {@link fetchClientStatus}. */
export interface FetchClientStatusOptions {
  /** Only this node id (exact match). Default: every client. */
  nodeId?: string;
  /** Leave resource bodies out of the answer. Default false. */
  excludeResourceContents?: boolean;
  security?: ConnectionSecurity;
  /** Default 5 s. */
  timeoutMs?: number;
}

/** Asks a control plane's CSDS what its clients hold (ACKed, NACKed, requested, missing). */
export function fetchClientStatus(
  target: string,
  options: FetchClientStatusOptions = {},
): Promise<ClientStatusResponse> {
  const client = new grpc.Client(target, channelCredentials(options.security), {
    "grpc.max_receive_message_length": -1,
  });
  const req = create(ClientStatusRequestSchema, {
    nodeMatchers: options.nodeId ? [{ nodeId: { matchPattern: { case: "exact", value: options.nodeId } } }] : [],
    excludeResourceContents: options.excludeResourceContents ?? false,
  });
  return new Promise<ClientStatusResponse>((resolve, reject) => {
    client.makeUnaryRequest(
      FETCH_PATH,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => fromBinary(ClientStatusResponseSchema, b),
      toBinary(ClientStatusRequestSchema, req),
      { deadline: Date.now() + (options.timeoutMs ?? 5000) },
      (err, value) => {
        client.close();
        if (err) reject(new Error(`CSDS at ${target} failed: ${err.details || err.message}`));
        else if (!value) reject(new Error(`CSDS at ${target} returned nothing`));
        else resolve(value);
      },
    );
  });
}
