// What rules apply to one value of a field: its own scalar, enum or
// well-known-message rules, or those of each element of a list or map.
import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import type { FieldRules } from "./gen/validate/validate_pb.js";
import type { ValueCheck } from "./rules-core.js";
import { anyCheck, durationCheck, enumCheck, scalarRules, timestampCheck } from "./rules-values.js";

/** What an element of a field holds: its kind, and its enum or message type. */
interface Element {
  readonly kind: "scalar" | "enum" | "message";
  readonly enumValues?: readonly number[];
  readonly message?: DescMessage;
  /** Wrappers are unboxed by protobuf-es in singular fields only; in lists and maps rules apply to `.value`. */
  readonly boxed: boolean;
}

/** Rules on a field's own value, or on each element of a list or map (not the required/skip message rules). */
export function valueCheck(field: DescField, r: FieldRules): ValueCheck | undefined {
  const e = elementOf(field);
  return e && elementCheck(e, r);
}

function elementCheck(e: Element, r: FieldRules): ValueCheck | undefined {
  switch (e.kind) {
    case "scalar":
      return scalarRules(r);
    case "enum":
      return enumCheck(r, e.enumValues ?? []);
    case "message": {
      const schema = e.message as DescMessage;
      if (!isWrapperDesc(schema)) return messageValueCheck(r);
      const inner = scalarRules(r);
      if (!e.boxed) return inner;
      return inner && ((v, k, ctx) => inner((v as { value: unknown }).value, k, ctx));
    }
  }
}

function elementOf(field: DescField): Element | undefined {
  const values = (d: { values: readonly { number: number }[] }) => d.values.map((v) => v.number);
  switch (field.fieldKind) {
    case "scalar":
      return { kind: "scalar", boxed: false };
    case "enum":
      return { kind: "enum", enumValues: values(field.enum), boxed: false };
    case "message":
      return { kind: "message", message: field.message, boxed: false };
    case "list":
      if (field.listKind === "enum") return { kind: "enum", enumValues: values(field.enum), boxed: true };
      if (field.listKind === "message") return { kind: "message", message: field.message, boxed: true };
      return { kind: "scalar", boxed: true };
    case "map":
      if (field.mapKind === "enum") return { kind: "enum", enumValues: values(field.enum), boxed: true };
      if (field.mapKind === "message") return { kind: "message", message: field.message, boxed: true };
      return { kind: "scalar", boxed: true };
  }
}

function messageValueCheck(r: FieldRules): ValueCheck | undefined {
  switch (r.type.case) {
    case "duration":
      return durationCheck(r.type.value);
    case "timestamp":
      return timestampCheck(r.type.value);
    case "any":
      return anyCheck(r.type.value);
    default:
      return undefined;
  }
}
