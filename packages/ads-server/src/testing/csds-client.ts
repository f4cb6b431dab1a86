import { type MessageInitShape, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Client } from "@grpc/grpc-js";
import {
  type ClientStatusResponse,
  ClientStatusRequestSchema,
  ClientStatusResponseSchema,
} from "@xdskit/xds-types/gen/envoy/service/status/v3/csds_pb";

/** Calls CSDS FetchClientStatus for one node id (exact match). */
export function fetchClientStatus(client: Client, nodeId: string): Promise<ClientStatusResponse> {
  return fetchClientStatusMatching(client, {
    nodeMatchers: [{ nodeId: { matchPattern: { case: "exact", value: nodeId } } }],
  });
}

/** Calls CSDS FetchClientStatus with any request. */
export function fetchClientStatusMatching(
  client: Client,
  init: MessageInitShape<typeof ClientStatusRequestSchema>,
): Promise<ClientStatusResponse> {
  const req = create(ClientStatusRequestSchema, init);
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
