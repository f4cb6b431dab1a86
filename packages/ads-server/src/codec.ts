// gRPC service definitions built from the generated descriptors, with
// serializers that pass bytes through: responses are assembled from
// pre-encoded resources and must not be encoded again per stream; requests are
// decoded by the handler so that a malformed one gets INVALID_ARGUMENT rather
// than grpc-js's generic deserialization error.
import type { DescService } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** Wraps bytes as a Buffer without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const passThrough = (b: Buffer) => b;

/** A grpc-js service definition for a generated service, with pass-through (de)serializers. */
export function rawServiceDefinition(service: DescService): ServiceDefinition {
  const def: Record<string, MethodDefinition<Buffer, Uint8Array>> = {};
  for (const m of service.methods) {
    def[m.name] = {
      path: `/${service.typeName}/${m.name}`,
      requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
      responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
      requestSerialize: passThrough as unknown as (v: Buffer) => Buffer,
      requestDeserialize: passThrough,
      responseSerialize: asBuffer,
      responseDeserialize: passThrough,
    };
  }
  return def as ServiceDefinition;
}
