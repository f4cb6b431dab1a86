import {
  type DescMessage,
  type JsonValue,
  type Message,
  type Registry,
  createRegistry,
  fromJson,
  toJson,
} from "@bufbuild/protobuf";
import { type Any, anyUnpack } from "@bufbuild/protobuf/wkt";
import { XdsError } from "./errors.js";
import { allFiles } from "./gen/all_files.js";
import { typeNameOf } from "./type-url.js";

/**
 * A registry of every generated message, enum and service: what `anyUnpack`
 * and JSON of `Any` fields need. This module loads all generated files; import
 * it from `@xdskit/xds-types/registry` only where that is wanted.
 */
export const xdsRegistry: Registry = createRegistry(...allFiles);

/** Finds the schema of a message by type URL or fully-qualified name. */
export function findMessageSchema(typeUrlOrName: string): DescMessage | undefined {
  return xdsRegistry.getMessage(typeNameOf(typeUrlOrName));
}

/** Unpacks any `Any` whose type is in the registry; throws naming the type if it is not or does not decode. */
export function unpackAnyDynamic(any: Any): Message {
  const name = typeNameOf(any.typeUrl);
  if (!xdsRegistry.getMessage(name)) {
    throw new XdsError("unknown_type_url", `cannot unpack an Any of unknown type "${any.typeUrl}"`);
  }
  try {
    const msg = anyUnpack(any, xdsRegistry);
    if (!msg) throw new Error("empty result");
    return msg;
  } catch (cause) {
    throw new XdsError("decode_failed", `cannot decode the ${name} inside an Any: ${String(cause)}`, { cause });
  }
}

/** Converts a message to proto3 JSON, resolving `Any` fields through the full registry. */
export function messageToJson(schema: DescMessage, message: Message): JsonValue {
  return toJson(schema, message, { registry: xdsRegistry });
}

/** Parses proto3 JSON into a message, resolving `Any` fields through the full registry. */
export function messageFromJson<Desc extends DescMessage>(schema: Desc, json: JsonValue) {
  try {
    return fromJson(schema, json, { registry: xdsRegistry });
  } catch (cause) {
    throw new XdsError("decode_failed", `invalid JSON for ${schema.typeName}: ${String(cause)}`, { cause });
  }
}
