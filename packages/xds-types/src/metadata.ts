// Node metadata is plain JSON in protobuf-es (google.protobuf.Struct as a
// JsonObject). A Struct message literal — `{ fields: { k: { kind: … } } }` —
// also type-checks there, and would go out as one odd key named "fields".
import type { JsonObject } from "@bufbuild/protobuf";
import { XdsError } from "./errors.js";

function looksLikeValue(v: unknown): boolean {
  return typeof v === "object" && v !== null && "kind" in v && typeof (v as { kind: unknown }).kind === "object";
}

/** True when `metadata` is shaped like a google.protobuf.Struct message rather than plain JSON. */
export function isStructLiteral(metadata: unknown): boolean {
  if (typeof metadata !== "object" || metadata === null) return false;
  const m = metadata as Record<string, unknown>;
  if ("$typeName" in m) return true;
  const keys = Object.keys(m);
  if (keys.length !== 1 || keys[0] !== "fields" || typeof m.fields !== "object" || m.fields === null) return false;
  const values = Object.values(m.fields as Record<string, unknown>);
  return values.length > 0 && values.every(looksLikeValue);
}

/** Throws an `invalid_argument` XdsError, saying what to write instead, when node metadata is a Struct literal. */
export function assertJsonMetadata(
  metadata: unknown,
  where = "node.metadata",
): asserts metadata is JsonObject | undefined {
  if (metadata === undefined) return;
  if (isStructLiteral(metadata)) {
    throw new XdsError(
      "invalid_argument",
      `${where} takes plain JSON ({ NAMESPACE: "default" }), but got a google.protobuf.Struct message ({ fields: { … { kind: … } } }), which would be sent as a single key named "fields"`,
    );
  }
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw new XdsError(
      "invalid_argument",
      `${where} must be a JSON object, got ${Array.isArray(metadata) ? "a list" : typeof metadata}`,
    );
  }
}
