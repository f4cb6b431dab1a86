import {
  type DescMessage,
  type JsonValue,
  type Message,
  type Registry,
  clone,
  create,
  createRegistry,
  fromJson,
  toJson,
} from "@bufbuild/protobuf";
import { type Any, StringValueSchema, anyPack, anyUnpack } from "@bufbuild/protobuf/wkt";
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

const UNKNOWN_MARK = "xdskit:unknown-any:";
// The placeholders are StringValues, which the xDS files may not define.
let withPlaceholder: Registry | undefined;

// Replaces, in place, every Any (at any depth, inside other Anys too) whose
// type the registry lacks by a placeholder naming it; returns the value.
function hideUnknown(value: unknown, hidden: Any[]): unknown {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = hideUnknown(value[i], hidden);
    return value;
  }
  const o = value as Record<string, unknown>;
  if (o.$typeName === "google.protobuf.Any") {
    const any = o as unknown as Any;
    const schema = xdsRegistry.getMessage(typeNameOf(any.typeUrl));
    if (!schema) {
      hidden.push(any);
      return anyPack(StringValueSchema, create(StringValueSchema, { value: `${UNKNOWN_MARK}${hidden.length - 1}` }));
    }
    const inner = anyUnpack(any, xdsRegistry);
    if (!inner) return value;
    const before = hidden.length;
    hideUnknown(inner, hidden);
    return hidden.length === before ? value : anyPack(schema, inner);
  }
  for (const k of Object.keys(o)) if (k !== "$typeName" && k !== "$unknown") o[k] = hideUnknown(o[k], hidden);
  return value;
}

function showUnknown(json: JsonValue, hidden: readonly Any[]): JsonValue {
  if (Array.isArray(json)) return json.map((j) => showUnknown(j, hidden));
  if (json === null || typeof json !== "object") return json;
  const mark = json.value;
  if (
    json["@type"] === "type.googleapis.com/google.protobuf.StringValue" &&
    typeof mark === "string" &&
    mark.startsWith(UNKNOWN_MARK)
  ) {
    const any = hidden[Number(mark.slice(UNKNOWN_MARK.length))];
    if (any)
      return {
        "@type": any.typeUrl,
        "@unknownType": "not in this client's type registry: raw bytes",
        value: Buffer.from(any.value).toString("base64"),
      };
  }
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(json)) out[k] = showUnknown(v as JsonValue, hidden);
  return out;
}

/**
 * Converts a message to proto3 JSON like {@link messageToJson}, but shows an
 * `Any` of a type the registry lacks (another control plane's extension) as
 * its type URL and base64 bytes instead of failing; `unknownTypes` lists them.
 */
export function messageToJsonTolerant(
  schema: DescMessage,
  message: Message,
): { json: JsonValue; unknownTypes: string[] } {
  try {
    return { json: toJson(schema, message, { registry: xdsRegistry }), unknownTypes: [] };
  } catch {
    const hidden: Any[] = [];
    const copy = hideUnknown(clone(schema, message), hidden) as Message;
    withPlaceholder ??= createRegistry(xdsRegistry, StringValueSchema);
    const json = showUnknown(toJson(schema, copy, { registry: withPlaceholder }), hidden);
    return { json, unknownTypes: [...new Set(hidden.map((a) => a.typeUrl))].sort() };
  }
}
