import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Client } from "@grpc/grpc-js";
import {
  type ClientStatusResponse,
  ClientStatusRequestSchema,
  ClientStatusResponseSchema,
} from "@xdskit/xds-types/gen/envoy/service/status/v3/csds_pb";

/** Calls CSDS FetchClientStatus for one node id (exact match). */
export function fetchClientStatus(client: Client, nodeId: string): Promise<ClientStatusResponse> {
  const req = create(ClientStatusRequestSchema, {
    nodeMatchers: [{ nodeId: { matchPattern: { case: "exact", value: nodeId } } }],
  });
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      "/envoy.service.status.v3.ClientStatusDiscoveryService/FetchClientStatus",
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => fromBinary(ClientStatusResponseSchema, b),
      toBinary(ClientStatusRequestSchema, req),
      (err, value) => (err || !value ? reject(err ?? new Error("empty")) : resolve(value)),
    );
  });
}
