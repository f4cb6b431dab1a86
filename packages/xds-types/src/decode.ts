import { type Message, fromBinary, toBinary } from "@bufbuild/protobuf";
import { XdsError } from "./errors.js";
import { findResourceType } from "./resource-types.js";

function typeOrThrow(typeUrl: string) {
  const type = findResourceType(typeUrl);
  if (!type) {
    throw new XdsError(
      "unknown_type_url",
      `unknown xDS type URL "${typeUrl}": expected one of the resource types in the table (see resourceTypes)`,
    );
  }
  return type;
}

/**
 * Decodes the bytes of one resource of the given type URL. Truncated or
 * garbage bytes raise `decode_failed` naming the type.
 */
export function decodeResource(typeUrl: string, bytes: Uint8Array): Message {
  const type = typeOrThrow(typeUrl);
  try {
    return fromBinary(type.schema, bytes);
  } catch (cause) {
    throw new XdsError(
      "decode_failed",
      `cannot decode ${type.schema.typeName} (${type.shortName}) from ${bytes.length} bytes: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

/** Encodes one resource of the given type URL; throws if the message is of another type. */
export function encodeResource(typeUrl: string, message: Message): Uint8Array {
  const type = typeOrThrow(typeUrl);
  if (message.$typeName !== type.schema.typeName) {
    throw new XdsError(
      "type_mismatch",
      `a resource of type ${message.$typeName} cannot be sent as ${typeUrl}: expected ${type.schema.typeName}`,
    );
  }
  return toBinary(type.schema, message);
}
