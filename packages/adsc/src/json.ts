import type { JsonValue } from "@bufbuild/protobuf";
import { type Any, anyUnpack } from "@bufbuild/protobuf/wkt";
import { findMessageSchema, messageToJsonTolerant, xdsRegistry } from "@xdskit/xds-types/registry";

/**
 * An `Any` holding an xDS resource as proto3 JSON (with its `@type`). What
 * this client cannot decode — the whole resource, or an extension inside
 * it — is shown as its type URL and base64 bytes, and the rest as JSON.
 */
export function anyToJson(any: Any): JsonValue {
  const schema = findMessageSchema(any.typeUrl);
  const message = schema ? anyUnpack(any, xdsRegistry) : undefined;
  if (!schema || !message)
    return {
      "@type": any.typeUrl,
      "@unknownType": "not in this client's type registry: raw bytes",
      value: Buffer.from(any.value).toString("base64"),
    };
  const { json } = messageToJsonTolerant(schema, message);
  // Well-known types have a JSON form of their own (a Duration is a string): it goes under `value`.
  return json !== null && typeof json === "object" && !Array.isArray(json)
    ? { "@type": any.typeUrl, ...json }
    : { "@type": any.typeUrl, value: json };
}
