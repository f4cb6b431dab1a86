// The constraints Envoy's protos declare with protoc-gen-validate options
// (`(validate.rules)`, `(validate.required)` on oneofs, `(validate.disabled)`),
// checked in TypeScript. Envoy rejects a resource that breaks any of them, so
// a control plane that checks them first refuses bad config with a precise
// path instead of pushing it to every client and collecting NACKs.
//
// Rules are read once per field from the descriptors protobuf-es embeds, and
// compiled into small checks; a message type whose subtree declares no rule is
// never walked.
import {
  type DescField,
  type DescMessage,
  type DescOneof,
  type Message,
  type Registry,
  getOption,
  hasOption,
} from "@bufbuild/protobuf";
import { type Any, anyUnpack, isWrapperDesc } from "@bufbuild/protobuf/wkt";
import {
  type FieldRules,
  disabled,
  required as oneofRequired,
  rules as fieldRules,
} from "./gen/validate/validate_pb.js";
import {
  type Check,
  type Ctx,
  type Obj,
  type Path,
  type RuleViolation,
  type ValueCheck,
  report,
} from "./rules-core.js";
import {
  anyCheck,
  durationCheck,
  enumCheck,
  mapBounds,
  repeatedBounds,
  scalarRules,
  timestampCheck,
} from "./rules-values.js";

export type { RuleViolation } from "./rules-core.js";

/** Options of {@link checkRules}. */
export interface CheckRulesOptions {
  /**
   * Schemas for the contents of `Any` fields (HTTP filters, transport
   * sockets, …): those of a type found here are unpacked and checked too.
   * Without it, only the `Any` rules themselves are checked.
   */
  readonly registry?: Registry;
  /** Stop after this many violations. Default 20. */
  readonly limit?: number;
}

/**
 * Checks a message against the protoc-gen-validate rules its schema declares
 * and returns every broken one (empty when the message is valid).
 */
export function checkRules(schema: DescMessage, message: Message, options: CheckRulesOptions = {}): RuleViolation[] {
  const out: RuleViolation[] = [];
  const ctx: Ctx = { out, limit: options.limit ?? 20, registry: options.registry };
  planOf(schema).run(message as unknown as Obj, undefined, ctx);
  return out;
}

/** Whether a message type (or anything it contains) declares any rule. */
export function declaresRules(schema: DescMessage): boolean {
  return hasRules(schema, new Set());
}

interface Plan {
  readonly checks: Check[];
  run(msg: Obj, at: Path, ctx: Ctx): void;
}

const plans = new WeakMap<DescMessage, Plan>();

function planOf(schema: DescMessage): Plan {
  let plan = plans.get(schema);
  if (plan) return plan;
  const checks: Check[] = [];
  plan = {
    checks,
    run(msg, at, ctx) {
      for (const c of checks) {
        if (ctx.out.length >= ctx.limit) return;
        c(msg, at, ctx);
      }
    },
  };
  // Registered before compiling, so recursive types find it.
  plans.set(schema, plan);
  if (hasOption(schema, disabled) && getOption(schema, disabled)) return plan;
  for (const oneof of schema.oneofs) {
    if (hasOption(oneof, oneofRequired) && getOption(oneof, oneofRequired)) checks.push(requiredOneof(oneof));
  }
  for (const field of schema.fields) {
    const c = compileField(field);
    if (c) checks.push(c);
  }
  return plan;
}

const rulesMemo = new WeakMap<DescMessage, boolean>();

function hasRules(schema: DescMessage, visiting: Set<DescMessage>): boolean {
  const known = rulesMemo.get(schema);
  if (known !== undefined) return known;
  // A type already on the path is assumed to have rules: safe, only costs a walk.
  if (visiting.has(schema)) return true;
  if (schema.typeName === "google.protobuf.Any") return true;
  visiting.add(schema);
  let found = schema.oneofs.some((o) => hasOption(o, oneofRequired) && getOption(o, oneofRequired));
  for (const f of schema.fields) {
    if (found) break;
    if (hasOption(f, fieldRules)) found = true;
    else if (f.message && (f.fieldKind === "message" || f.fieldKind === "list" || f.fieldKind === "map"))
      found = hasRules(f.message, visiting);
  }
  visiting.delete(schema);
  if (visiting.size === 0 || !found) rulesMemo.set(schema, found);
  return found;
}

function requiredOneof(oneof: DescOneof): Check {
  const names = oneof.fields.map((f) => f.name).join(", ");
  return (msg, at, ctx) => {
    const v = msg[oneof.localName] as { case: string | undefined } | undefined;
    if (v?.case === undefined) report(ctx, at, oneof.name, `one of ${names} must be set`);
  };
}

/** The value of a field, or undefined when it is not set (a oneof member not selected). */
const readers = new WeakMap<DescField, (msg: Obj) => unknown>();

// One small function per field, so each property load has its own inline
// cache (a shared `msg[name]` would see every field of every type and go
// megamorphic, the slowest kind of load).
function readerOf(field: DescField): (msg: Obj) => unknown {
  let r = readers.get(field);
  if (!r) {
    const body = field.oneof
      ? `const o = m[${JSON.stringify(field.oneof.localName)}]; return o !== undefined && o.case === ${JSON.stringify(field.localName)} ? o.value : undefined;`
      : `return m[${JSON.stringify(field.localName)}];`;
    r = new Function("m", body) as (msg: Obj) => unknown;
    readers.set(field, r);
  }
  return r;
}

function compileField(field: DescField): Check | undefined {
  const get = readerOf(field);
  const r: FieldRules | undefined = hasOption(field, fieldRules) ? getOption(field, fieldRules) : undefined;
  const name = field.name;
  switch (field.fieldKind) {
    case "scalar":
    case "enum": {
      const check = r ? valueCheck(field, r) : undefined;
      if (!check) return undefined;
      // A oneof member is checked only when selected; a plain proto3 scalar always (as PGV does).
      return (msg, at, ctx) => {
        const v = get(msg);
        if (v !== undefined) check(v, at, name, ctx);
      };
    }
    case "message": {
      const schema = field.message;
      const t = r?.type;
      const requiredValue =
        r?.message?.required === true ||
        ((t?.case === "duration" || t?.case === "timestamp" || t?.case === "any") && t.value.required);
      const skip = r?.message?.skip === true;
      const wrapper = isWrapperDesc(schema);
      const own = r ? valueCheck(field, r) : undefined;
      const walk = !skip && !wrapper && declaresRules(schema);
      if (!requiredValue && !own && !walk) return undefined;
      return (msg, at, ctx) => {
        const v = get(msg);
        if (v === undefined) {
          // A oneof member not selected is not checked at all (the oneof's own `required` covers absence).
          if (requiredValue && !field.oneof) report(ctx, at, name, "is required");
          return;
        }
        own?.(v, at, name, ctx);
        if (walk) walkMessage(schema, v, { up: at, seg: name }, ctx);
      };
    }
    case "list": {
      const rep = r?.type.case === "repeated" ? r.type.value : undefined;
      const item = rep?.items ? valueCheck(field, rep.items) : undefined;
      const walk = field.listKind === "message" && rep?.items?.message?.skip !== true && declaresRules(field.message);
      if (!rep && !walk) return undefined;
      return (msg, at, ctx) => {
        const list = get(msg) as readonly unknown[];
        if (list.length === 0 && !rep) return;
        const here: Path = { up: at, seg: name };
        if (rep) repeatedBounds(rep, list, at, name, ctx);
        for (let i = 0; i < list.length; i++) {
          if (ctx.out.length >= ctx.limit) return;
          item?.(list[i], here, i, ctx);
          if (walk && field.listKind === "message") walkMessage(field.message, list[i], { up: here, seg: i }, ctx);
        }
      };
    }
    case "map": {
      const mr = r?.type.case === "map" ? r.type.value : undefined;
      const keyCheck = mr?.keys ? scalarRules(mr.keys) : undefined;
      const valueRules = mr?.values;
      const valCheck = valueRules ? valueCheck(field, valueRules) : undefined;
      const walk = field.mapKind === "message" && valueRules?.message?.skip !== true && declaresRules(field.message);
      if (!mr && !walk) return undefined;
      return (msg, at, ctx) => {
        const map = get(msg) as Record<string, unknown>;
        const keys = Object.keys(map);
        if (keys.length === 0 && !mr) return;
        const here: Path = { up: at, seg: name };
        if (mr) mapBounds(mr, keys.length, at, name, ctx);
        for (const key of keys) {
          if (ctx.out.length >= ctx.limit) return;
          const seg = `[${JSON.stringify(key)}]`;
          keyCheck?.(key, here, seg, ctx);
          valCheck?.(map[key], here, seg, ctx);
          if (walk && field.mapKind === "message") walkMessage(field.message, map[key], { up: here, seg }, ctx);
        }
      };
    }
  }
}

// protobuf-es holds Struct, Value and ListValue fields as plain JSON: no rules to walk there.
const JSON_TYPES = new Set(["google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"]);

function walkMessage(schema: DescMessage, value: unknown, at: Path, ctx: Ctx): void {
  if (JSON_TYPES.has(schema.typeName)) return;
  if (schema.typeName === "google.protobuf.Any") {
    walkAny(value as Any, at, ctx);
    return;
  }
  planOf(schema).run(value as Obj, at, ctx);
}

function walkAny(any: Any, at: Path, ctx: Ctx): void {
  if (!ctx.registry || !any.typeUrl) return;
  const name = any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);
  const schema = ctx.registry.getMessage(name);
  if (!schema || !declaresRules(schema)) return;
  let inner: Message | undefined;
  try {
    inner = anyUnpack(any, ctx.registry);
  } catch (err) {
    report(
      ctx,
      at,
      undefined,
      `holds a ${name} that does not decode: ${err instanceof Error ? err.message : String(err)}`,
    );
    return;
  }
  if (inner) planOf(schema).run(inner as unknown as Obj, { up: at, seg: `(${name})` }, ctx);
}

/** What an element of a field holds: its kind, and its enum or message type. */
interface Element {
  readonly kind: "scalar" | "enum" | "message";
  readonly enumValues?: readonly number[];
  readonly message?: DescMessage;
  /** Wrappers are unboxed by protobuf-es in singular fields only; in lists and maps rules apply to `.value`. */
  readonly boxed: boolean;
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
      return inner && ((v, u, k, ctx) => inner((v as { value: unknown }).value, u, k, ctx));
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

/** Rules on a field's own value, or on each element of a list or map (not the required/skip message rules). */
function valueCheck(field: DescField, r: FieldRules): ValueCheck | undefined {
  const e = elementOf(field);
  return e && elementCheck(e, r);
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
