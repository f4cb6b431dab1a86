import { toJson } from "@bufbuild/protobuf";
import { type Any, AnySchema } from "@bufbuild/protobuf/wkt";
import type { JsonValue } from "@bufbuild/protobuf";
import { xdsRegistry } from "@xdskit/xds-types/registry";

/** An `Any` holding an xDS resource as proto3 JSON (with its `@type`); unknown types as base64. */
export function anyToJson(any: Any): JsonValue {
  try {
    return toJson(AnySchema, any, { registry: xdsRegistry });
  } catch {
    return { "@type": any.typeUrl, value: Buffer.from(any.value).toString("base64") };
  }
}
