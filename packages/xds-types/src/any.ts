import { type DescMessage, type MessageInitShape, type MessageShape, create } from "@bufbuild/protobuf";
import { type Any, anyIs, anyPack, anyUnpackTo } from "@bufbuild/protobuf/wkt";
import { XdsError } from "./errors.js";
import { typeNameOf } from "./type-url.js";

/** Packs a message (or its init shape) into a `google.protobuf.Any`. */
export function packAny<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc> | MessageInitShape<Desc>,
): Any {
  const msg = isMessage(message, schema) ? message : create(schema, message as MessageInitShape<Desc>);
  return anyPack(schema, msg);
}

/**
 * Unpacks an `Any` that must hold `schema`. Throws `type_mismatch` when it
 * holds another type and `decode_failed` when its bytes do not decode.
 */
export function unpackAny<Desc extends DescMessage>(any: Any | undefined, schema: Desc): MessageShape<Desc> {
  if (!any) {
    throw new XdsError("invalid_argument", `expected an Any holding ${schema.typeName}, got nothing`);
  }
  if (!anyIs(any, schema)) {
    throw new XdsError(
      "type_mismatch",
      `expected an Any holding ${schema.typeName}, got ${typeNameOf(any.typeUrl) || "an empty type URL"}`,
    );
  }
  try {
    const out = anyUnpackTo(any, schema, create(schema));
    if (!out) throw new Error("type URL does not match");
    return out;
  } catch (cause) {
    throw new XdsError("decode_failed", `cannot decode the ${schema.typeName} inside an Any: ${String(cause)}`, {
      cause,
    });
  }
}

function isMessage<Desc extends DescMessage>(value: unknown, schema: Desc): value is MessageShape<Desc> {
  return (
    typeof value === "object" && value !== null && (value as { $typeName?: unknown }).$typeName === schema.typeName
  );
}
