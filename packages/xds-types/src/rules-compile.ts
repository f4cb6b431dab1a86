// Turns the rules of one message type into one JavaScript function, written
// once per type and kept: each field is a few lines reading the property by
// its own name (so every load has its own inline cache), calling the value
// checks of rules-values/rules-strings, and calling the function of a nested
// type directly. A valid message is walked without allocating anything.
import {
  type DescField,
  type DescMessage,
  type DescOneof,
  type Message,
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
import { type Ctx, type Obj, report } from "./rules-core.js";
import { valueCheck } from "./rules-elements.js";
import { mapBounds, repeatedBounds, scalarRules } from "./rules-values.js";

/** The compiled check of one message type. */
export interface Plan {
  check: (msg: Obj, ctx: Ctx) => void;
}

const plans = new WeakMap<DescMessage, Plan>();

/** The check of a message type, compiled on first use. */
export function planOf(schema: DescMessage): Plan {
  let plan = plans.get(schema);
  if (plan) return plan;
  plan = { check: () => {} };
  // Registered before compiling, so recursive types find it.
  plans.set(schema, plan);
  if (hasOption(schema, disabled) && getOption(schema, disabled)) return plan;
  const out = new Source();
  for (const oneof of schema.oneofs) {
    if (hasOption(oneof, oneofRequired) && getOption(oneof, oneofRequired)) requiredOneof(out, oneof);
  }
  for (const field of schema.fields) compileField(out, field);
  plan.check = out.compile();
  return plan;
}

/** Whether a message type (or anything it contains) declares any rule. */
export function declaresRules(schema: DescMessage): boolean {
  return hasRules(schema, new Set());
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

/** The body of a type's check being written, and the values it refers to. */
class Source {
  private readonly names: string[] = ["report", "walkAny"];
  private readonly values: unknown[] = [report, walkAny];
  private readonly lines: string[] = [];

  /** A name in the body bound to `value`. */
  ref(value: unknown): string {
    const name = `k${this.values.length}`;
    this.names.push(name);
    this.values.push(value);
    return name;
  }

  add(line: string): void {
    this.lines.push(line);
  }

  compile(): (msg: Obj, ctx: Ctx) => void {
    const body = [
      "return function check(m, ctx) {",
      "if (ctx.out.length >= ctx.limit) return;",
      "const at = ctx.at;",
      "let v;",
      ...this.lines,
      "};",
    ].join("\n");
    return new Function(...this.names, body)(...this.values) as (msg: Obj, ctx: Ctx) => void;
  }
}

const lit = (s: string | number) => JSON.stringify(s);

/** The statement that puts a field's value (undefined for a oneof member not selected) in `v`. */
function read(field: DescField): string {
  if (!field.oneof) return `v = m[${lit(field.localName)}];`;
  return `v = m[${lit(field.oneof.localName)}]; v = v !== undefined && v.case === ${lit(field.localName)} ? v.value : undefined;`;
}

// protobuf-es holds Struct, Value and ListValue fields as plain JSON: no rules to walk there.
const JSON_TYPES = new Set(["google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"]);

/** The statement that walks the message in `expr` (with `at` already naming where it is), or "" when nothing to walk. */
function walkOf(out: Source, schema: DescMessage, expr: string): string {
  if (JSON_TYPES.has(schema.typeName) || !declaresRules(schema)) return "";
  if (schema.typeName === "google.protobuf.Any") return `walkAny(${expr}, ctx);`;
  return `${out.ref(planOf(schema))}.check(${expr}, ctx);`;
}

function requiredOneof(out: Source, oneof: DescOneof): void {
  const text = `one of ${oneof.fields.map((f) => f.name).join(", ")} must be set`;
  out.add(
    `v = m[${lit(oneof.localName)}]; if (v === undefined || v.case === undefined) report(ctx, ${lit(oneof.name)}, ${lit(text)});`,
  );
}

function compileField(out: Source, field: DescField): void {
  const r: FieldRules | undefined = hasOption(field, fieldRules) ? getOption(field, fieldRules) : undefined;
  const seg = lit(field.name);
  switch (field.fieldKind) {
    case "scalar":
    case "enum": {
      const check = r ? valueCheck(field, r) : undefined;
      // A oneof member is checked only when selected; a plain proto3 scalar always (as PGV does).
      if (check) out.add(`${read(field)} if (v !== undefined) ${out.ref(check)}(v, ${seg}, ctx);`);
      return;
    }
    case "message": {
      const t = r?.type;
      const requiredValue =
        r?.message?.required === true ||
        ((t?.case === "duration" || t?.case === "timestamp" || t?.case === "any") && t.value.required);
      const own = r ? valueCheck(field, r) : undefined;
      const walk = r?.message?.skip === true || isWrapperDesc(field.message) ? "" : walkOf(out, field.message, "v");
      if (!requiredValue && !own && !walk) return;
      // A oneof member not selected is not checked at all (the oneof's own `required` covers absence).
      const absent = requiredValue && !field.oneof ? `report(ctx, ${seg}, "is required");` : "";
      out.add(`${read(field)} if (v === undefined) { ${absent} } else {`);
      if (own) out.add(`${out.ref(own)}(v, ${seg}, ctx);`);
      if (walk) out.add(`at.push(${seg}); ${walk} at.pop();`);
      out.add("}");
      return;
    }
    case "list": {
      const rep = r?.type.case === "repeated" ? r.type.value : undefined;
      const item = rep?.items ? valueCheck(field, rep.items) : undefined;
      const walk =
        field.listKind === "message" && rep?.items?.message?.skip !== true ? walkOf(out, field.message, "v[i]") : "";
      if (!rep && !walk) return;
      out.add(`${read(field)} if (${rep ? "true" : "v.length !== 0"}) {`);
      if (rep) out.add(`${out.ref(repeatedBounds)}(${out.ref(rep)}, v, ${seg}, ctx);`);
      if (item || walk) {
        out.add(`at.push(${seg}); for (let i = 0; i < v.length; i++) { if (ctx.out.length >= ctx.limit) break;`);
        if (item) out.add(`${out.ref(item)}(v[i], i, ctx);`);
        if (walk) out.add(`at.push(i); ${walk} at.pop();`);
        out.add("} at.pop();");
      }
      out.add("}");
      return;
    }
    case "map": {
      const mr = r?.type.case === "map" ? r.type.value : undefined;
      const keyCheck = mr?.keys ? scalarRules(mr.keys) : undefined;
      const valCheck = mr?.values ? valueCheck(field, mr.values) : undefined;
      const walk =
        field.mapKind === "message" && mr?.values?.message?.skip !== true ? walkOf(out, field.message, "v[key]") : "";
      if (!mr && !walk) return;
      out.add(`${read(field)} { const keys = Object.keys(v); if (${mr ? "true" : "keys.length !== 0"}) {`);
      if (mr) out.add(`${out.ref(mapBounds)}(${out.ref(mr)}, keys.length, ${seg}, ctx);`);
      if (keyCheck || valCheck || walk) {
        out.add(`at.push(${seg}); for (const key of keys) { if (ctx.out.length >= ctx.limit) break;`);
        out.add('const seg = "[" + JSON.stringify(key) + "]";');
        if (keyCheck) out.add(`${out.ref(keyCheck)}(key, seg, ctx);`);
        if (valCheck) out.add(`${out.ref(valCheck)}(v[key], seg, ctx);`);
        if (walk) out.add(`at.push(seg); ${walk} at.pop();`);
        out.add("} at.pop();");
      }
      out.add("} }");
      return;
    }
  }
}

/** Checks what an `Any` holds, when the registry knows its type and that type declares rules. */
function walkAny(any: Any, ctx: Ctx): void {
  if (!ctx.registry || !any.typeUrl) return;
  const name = any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);
  const schema = ctx.registry.getMessage(name);
  if (!schema || !declaresRules(schema)) return;
  let inner: Message | undefined;
  try {
    inner = anyUnpack(any, ctx.registry);
  } catch (err) {
    report(ctx, undefined, `holds a ${name} that does not decode: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  if (!inner) return;
  ctx.at.push(`(${name})`);
  planOf(schema).check(inner as unknown as Obj, ctx);
  ctx.at.pop();
}
