// The constraints Envoy's protos declare with protoc-gen-validate options
// (`(validate.rules)`, `(validate.required)` on oneofs, `(validate.disabled)`),
// checked in TypeScript. Envoy rejects a resource that breaks any of them, so
// a control plane that checks them first refuses bad config with a precise
// path instead of pushing it to every client and collecting NACKs.
//
// Rules are read once per field from the descriptors protobuf-es embeds, and
// compiled into small checks; a message type whose subtree declares no rule is
// never walked.
import { isIP } from "node:net";
import {
  type DescField,
  type DescMessage,
  type DescOneof,
  type Message,
  type Registry,
  getOption,
  hasOption,
} from "@bufbuild/protobuf";
import { type Any, type Duration, type Timestamp, anyUnpack, isWrapperDesc } from "@bufbuild/protobuf/wkt";
import {
  type AnyRules,
  type BytesRules,
  type DurationRules,
  type EnumRules,
  type FieldRules,
  type MapRules,
  type RepeatedRules,
  type StringRules,
  type TimestampRules,
  disabled,
  required as oneofRequired,
  rules as fieldRules,
} from "./gen/validate/validate_pb.js";

/** One broken constraint: where (proto field path) and what. */
export interface RuleViolation {
  /** Proto field names from the checked message, e.g. `load_assignment.endpoints[0].lb_endpoints[1].endpoint`. */
  readonly path: string;
  /** What the value must be, e.g. `must be at least 1 characters long`. */
  readonly message: string;
}

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

type Obj = Record<string, unknown>;

interface Ctx {
  readonly out: RuleViolation[];
  readonly limit: number;
  readonly registry: Registry | undefined;
}

// Where a value is: a chain of segments (field names, list indexes, rendered
// map keys and Any types), turned into text only when something is reported,
// so a valid message costs no string building.
type Path = { readonly up: Path; readonly seg: string | number } | undefined;

/** Checks a message found at `at`. */
type Check = (msg: Obj, at: Path, ctx: Ctx) => void;
/** Checks a value found at segment `seg` under `up`. */
type ValueCheck = (value: unknown, up: Path, seg: string | number, ctx: Ctx) => void;

interface Plan {
  readonly checks: Check[];
  run(msg: Obj, at: Path, ctx: Ctx): void;
}

function render(up: Path, seg: string | number | undefined): string {
  const segs: (string | number)[] = seg === undefined ? [] : [seg];
  for (let p = up; p; p = p.up) segs.push(p.seg);
  let out = "";
  for (let i = segs.length - 1; i >= 0; i--) {
    const s = segs[i] as string | number;
    if (typeof s === "number") out += `[${s}]`;
    else if (s.startsWith("[") || s.startsWith("(")) out += s;
    else out += out ? `.${s}` : s;
  }
  return out;
}

function report(ctx: Ctx, up: Path, seg: string | number | undefined, message: string): void {
  if (ctx.out.length < ctx.limit) ctx.out.push({ path: render(up, seg) || "(message)", message });
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

function walkMessage(schema: DescMessage, value: unknown, at: Path, ctx: Ctx): void {
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

// ---- scalars ---------------------------------------------------------------

type Num = number | bigint;

interface NumberRules {
  const?: Num;
  lt?: Num;
  lte?: Num;
  gt?: Num;
  gte?: Num;
  in: Num[];
  notIn: Num[];
}

// Rule fields are proto2 optionals: protobuf-es keeps set ones as own properties.
function has<T extends object>(o: T, k: keyof T & string): boolean {
  return Object.hasOwn(o, k);
}

function scalarRules(r: FieldRules): ValueCheck | undefined {
  switch (r.type.case) {
    case "float":
    case "double":
    case "int32":
    case "int64":
    case "uint32":
    case "uint64":
    case "sint32":
    case "sint64":
    case "fixed32":
    case "fixed64":
    case "sfixed32":
    case "sfixed64":
      return numberCheck(r.type.value as unknown as NumberRules);
    case "bool": {
      const b = r.type.value;
      if (!has(b, "const")) return undefined;
      return (v, u, k, ctx) => {
        if (v !== b.const) report(ctx, u, k, `must be ${b.const}`);
      };
    }
    case "string":
      return stringCheck(r.type.value);
    case "bytes":
      return bytesCheck(r.type.value);
    default:
      return undefined;
  }
}

function numberCheck(n: NumberRules): ValueCheck | undefined {
  // Unset proto2 fields read as their default: only own (set) ones are bounds.
  const set = (key: keyof NumberRules & string) => (has(n, key) ? (n[key] as Num) : undefined);
  const rules = { const: set("const"), lt: set("lt"), lte: set("lte"), gt: set("gt"), gte: set("gte") };
  return combine(orderedChecks<Num>({ ...rules, in: n.in, notIn: n.notIn }, (v) => v, String));
}

/** Bounds of a totally ordered value: numbers, or Duration and Timestamp by their nanoseconds. */
interface Ordered<T> {
  readonly const?: T | undefined;
  readonly lt?: T | undefined;
  readonly lte?: T | undefined;
  readonly gt?: T | undefined;
  readonly gte?: T | undefined;
  readonly in: readonly T[];
  readonly notIn: readonly T[];
}

/** const, lt/lte/gt/gte (PGV's exclusive range when the upper bound is below the lower) and in/not_in. */
function orderedChecks<T>(r: Ordered<T>, ord: (v: T) => Num, show: (v: T) => string): ValueCheck[] {
  const checks: ValueCheck[] = [];
  if (r.const !== undefined) {
    const c = ord(r.const);
    const text = `must equal ${show(r.const)}`;
    checks.push((v, u, k, ctx) => ord(v as T) !== c && report(ctx, u, k, text));
  }
  const low = r.gt ?? r.gte;
  const high = r.lt ?? r.lte;
  const lo = low === undefined ? undefined : ord(low);
  const hi = high === undefined ? undefined : ord(high);
  const loIncl = r.gt === undefined;
  const hiIncl = r.lt === undefined;
  const above = (x: Num) => lo === undefined || (loIncl ? x >= lo : x > lo);
  const below = (x: Num) => hi === undefined || (hiIncl ? x <= hi : x < hi);
  const loText = low === undefined ? "" : `${loIncl ? "at least" : "greater than"} ${show(low)}`;
  const hiText = high === undefined ? "" : `${hiIncl ? "at most" : "less than"} ${show(high)}`;
  if (lo !== undefined && hi !== undefined && hi < lo) {
    // PGV: an upper bound below the lower one means "outside the range".
    checks.push((v, u, k, ctx) => {
      const x = ord(v as T);
      if (!above(x) && !below(x)) report(ctx, u, k, `must be ${loText} or ${hiText}`);
    });
  } else if (lo !== undefined || hi !== undefined) {
    const text = [loText, hiText].filter(Boolean).join(" and ");
    checks.push((v, u, k, ctx) => {
      const x = ord(v as T);
      if (!above(x) || !below(x)) report(ctx, u, k, `must be ${text}`);
    });
  }
  if (r.in.length > 0) {
    const allowed = r.in.map(ord);
    const text = `must be one of ${r.in.map(show).join(", ")}`;
    checks.push((v, u, k, ctx) => !allowed.includes(ord(v as T)) && report(ctx, u, k, text));
  }
  if (r.notIn.length > 0) {
    const refused = r.notIn.map(ord);
    const text = `must not be one of ${r.notIn.map(show).join(", ")}`;
    checks.push((v, u, k, ctx) => refused.includes(ord(v as T)) && report(ctx, u, k, text));
  }
  return checks;
}

function inNotIn<T>(checks: ValueCheck[], inList: readonly T[], notIn: readonly T[], show: (v: T) => string): void {
  if (inList.length > 0) {
    const text = inList.map(show).join(", ");
    checks.push((v, u, k, ctx) => {
      if (!inList.some((x) => x === (v as T))) report(ctx, u, k, `must be one of ${text}`);
    });
  }
  if (notIn.length > 0) {
    const text = notIn.map(show).join(", ");
    checks.push((v, u, k, ctx) => {
      if (notIn.some((x) => x === (v as T))) report(ctx, u, k, `must not be one of ${text}`);
    });
  }
}

function combine(checks: readonly ValueCheck[]): ValueCheck | undefined {
  if (checks.length === 0) return undefined;
  if (checks.length === 1) return checks[0];
  return (v, u, k, ctx) => {
    for (const c of checks) c(v, u, k, ctx);
  };
}

// Header rules of RFC 7230: a token for names; for values, no control
// characters but horizontal tab (strict), or no NUL, CR or LF (loose).
const HEADER_NAME = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;

function isStrictHeaderValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

function isLooseHeader(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return false;
  }
  return true;
}

const HOSTNAME_LABEL = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const EMAIL = /^[^@\s]+@[^@\s]+$/;

function isHostname(s: string): boolean {
  const h = s.endsWith(".") ? s.slice(0, -1) : s;
  return h.length > 0 && h.length <= 253 && h.split(".").every((l) => HOSTNAME_LABEL.test(l));
}

function isUri(s: string, absolute: boolean): boolean {
  try {
    if (absolute) return /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s) && new URL(s).protocol !== "";
    new URL(s, "http://base.invalid/");
    return true;
  } catch {
    return false;
  }
}

/** Compiles an RE2 pattern as a JS RegExp, or undefined when JS cannot express it (then the rule is not checked). */
function compilePattern(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, "u");
  } catch {
    try {
      return new RegExp(pattern);
    } catch {
      return undefined;
    }
  }
}

/** Length in code points (what PGV's string lengths count). */
function codePoints(v: string): number {
  let n = v.length;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < v.length) {
      const d = v.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

function utf8Length(v: string): number {
  return Buffer.byteLength(v, "utf8");
}

/**
 * Exact, minimum and maximum length rules, with bounds turned into numbers
 * once. `measure` is only called when the UTF-16 length cannot decide: a
 * string's code points and UTF-8 bytes are between half and three times its
 * UTF-16 length, and never below the code points.
 */
function lengthCheck<R extends object>(
  checks: ValueCheck[],
  rules: R,
  exact: keyof R & string,
  min: keyof R & string,
  max: keyof R & string,
  unit: "characters" | "bytes",
  measure: (v: string) => number,
): void {
  const bound = (key: keyof R & string) => (has(rules, key) ? Number(rules[key] as bigint) : undefined);
  const eq = bound(exact);
  const lo = bound(min);
  const hi = bound(max);
  const bytes = unit === "bytes";
  if (eq !== undefined)
    checks.push((v, u, k, ctx) => {
      if (measure(v as string) !== eq) report(ctx, u, k, `must be exactly ${eq} ${unit} long`);
    });
  if (lo !== undefined)
    checks.push((v, u, k, ctx) => {
      const n = (v as string).length;
      // Code points ≥ half the UTF-16 units; bytes ≥ the UTF-16 units.
      if ((bytes ? n : n >> 1) >= lo) return;
      if (measure(v as string) < lo) report(ctx, u, k, `must be at least ${lo} ${unit} long`);
    });
  if (hi !== undefined)
    checks.push((v, u, k, ctx) => {
      const n = (v as string).length;
      // Code points ≤ the UTF-16 units; bytes ≤ three times them.
      if ((bytes ? n * 3 : n) <= hi) return;
      if (measure(v as string) > hi) report(ctx, u, k, `must be at most ${hi} ${unit} long`);
    });
}

function stringCheck(s: StringRules): ValueCheck | undefined {
  const checks: ValueCheck[] = [];
  if (has(s, "const")) checks.push((v, u, k, ctx) => v !== s.const && report(ctx, u, k, `must be "${s.const}"`));
  lengthCheck(checks, s, "len", "minLen", "maxLen", "characters", codePoints);
  lengthCheck(checks, s, "lenBytes", "minBytes", "maxBytes", "bytes", utf8Length);
  if (has(s, "pattern")) {
    const re = compilePattern(s.pattern);
    if (re)
      checks.push((v, u, k, ctx) => !re.test(v as string) && report(ctx, u, k, `must match the pattern ${s.pattern}`));
  }
  if (has(s, "prefix"))
    checks.push(
      (v, u, k, ctx) => !(v as string).startsWith(s.prefix) && report(ctx, u, k, `must start with "${s.prefix}"`),
    );
  if (has(s, "suffix"))
    checks.push(
      (v, u, k, ctx) => !(v as string).endsWith(s.suffix) && report(ctx, u, k, `must end with "${s.suffix}"`),
    );
  if (has(s, "contains"))
    checks.push(
      (v, u, k, ctx) => !(v as string).includes(s.contains) && report(ctx, u, k, `must contain "${s.contains}"`),
    );
  if (has(s, "notContains"))
    checks.push(
      (v, u, k, ctx) =>
        (v as string).includes(s.notContains) && report(ctx, u, k, `must not contain "${s.notContains}"`),
    );
  inNotIn(checks, s.in, s.notIn, (v) => JSON.stringify(v));
  const wk = s.wellKnown;
  if (wk.case !== undefined && wk.value !== false) {
    const test = wellKnownString(wk.case, wk.case === "wellKnownRegex" ? wk.value : 0, !has(s, "strict") || s.strict);
    if (test) {
      const [ok, what] = test;
      checks.push((v, u, k, ctx) => {
        if (!ok(v as string)) report(ctx, u, k, `must be ${what}`);
      });
    }
  }
  const check = combine(checks);
  // ignore_empty: the rules hold only for a non-empty value.
  if (check && s.ignoreEmpty) return (v, u, k, ctx) => v !== "" && check(v, u, k, ctx);
  return check;
}

function wellKnownString(kind: string, regex: number, strict: boolean): [(v: string) => boolean, string] | undefined {
  switch (kind) {
    case "email":
      return [(v) => EMAIL.test(v), "an email address"];
    case "hostname":
      return [isHostname, "a hostname"];
    case "ip":
      return [(v) => isIP(v) !== 0, "an IP address"];
    case "ipv4":
      return [(v) => isIP(v) === 4, "an IPv4 address"];
    case "ipv6":
      return [(v) => isIP(v) === 6, "an IPv6 address"];
    case "uri":
      return [(v) => isUri(v, true), "an absolute URI"];
    case "uriRef":
      return [(v) => isUri(v, false), "a URI reference"];
    case "address":
      return [(v) => isIP(v) !== 0 || isHostname(v), "a hostname or an IP address"];
    case "uuid":
      return [(v) => UUID.test(v), "a UUID"];
    case "wellKnownRegex":
      // 1 = HTTP_HEADER_NAME, 2 = HTTP_HEADER_VALUE.
      if (regex === 1)
        return strict
          ? [(v) => HEADER_NAME.test(v), "a valid HTTP header name"]
          : [isLooseHeader, "free of NUL, CR and LF"];
      if (regex === 2)
        return strict ? [isStrictHeaderValue, "a valid HTTP header value"] : [isLooseHeader, "free of NUL, CR and LF"];
      return undefined;
    default:
      return undefined;
  }
}

function bytesCheck(b: BytesRules): ValueCheck | undefined {
  const checks: ValueCheck[] = [];
  lengthCheck(checks, b, "len", "minLen", "maxLen", "bytes", (v) => (v as unknown as Uint8Array).length);
  const wk = b.wellKnown;
  if (wk.case !== undefined && wk.value) {
    const want = wk.case === "ipv4" ? 4 : wk.case === "ipv6" ? 16 : 0;
    checks.push((v, u, k, ctx) => {
      const n = (v as Uint8Array).length;
      if (want ? n !== want : n !== 4 && n !== 16)
        report(ctx, u, k, `must be ${want || "4 or 16"} bytes (an IP address)`);
    });
  }
  return combine(checks);
}

function enumCheck(r: FieldRules, defined: readonly number[]): ValueCheck | undefined {
  if (r.type.case !== "enum") return undefined;
  const e: EnumRules = r.type.value;
  const checks: ValueCheck[] = [];
  if (has(e, "const")) checks.push((v, u, k, ctx) => v !== e.const && report(ctx, u, k, `must be ${e.const}`));
  if (e.definedOnly) {
    const known = new Set(defined);
    checks.push(
      (v, u, k, ctx) => !known.has(v as number) && report(ctx, u, k, `must be a defined enum value, not ${v}`),
    );
  }
  inNotIn(checks, e.in, e.notIn, String);
  return combine(checks);
}

function repeatedBounds(r: RepeatedRules, list: readonly unknown[], u: Path, k: string, ctx: Ctx): void {
  const n = list.length;
  if (has(r, "minItems") && n < Number(r.minItems))
    report(ctx, u, k, `must have at least ${r.minItems} item(s), has ${n}`);
  if (has(r, "maxItems") && n > Number(r.maxItems))
    report(ctx, u, k, `must have at most ${r.maxItems} item(s), has ${n}`);
  if (r.unique && n > 1) {
    const seen = new Set<unknown>();
    for (const v of list) {
      const key = v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v;
      if (seen.has(key)) {
        report(ctx, u, k, `must not repeat an item (${String(v)} appears twice)`);
        return;
      }
      seen.add(key);
    }
  }
}

function mapBounds(r: MapRules, n: number, u: Path, k: string, ctx: Ctx): void {
  if (has(r, "minPairs") && n < Number(r.minPairs))
    report(ctx, u, k, `must have at least ${r.minPairs} entries, has ${n}`);
  if (has(r, "maxPairs") && n > Number(r.maxPairs))
    report(ctx, u, k, `must have at most ${r.maxPairs} entries, has ${n}`);
}

// ---- well-known messages ----------------------------------------------------

function nanos(d: { seconds: bigint; nanos: number }): bigint {
  return d.seconds * 1_000_000_000n + BigInt(d.nanos);
}

function showDuration(d: Duration): string {
  const n = nanos(d);
  return n % 1_000_000_000n === 0n ? `${n / 1_000_000_000n}s` : `${Number(n) / 1e9}s`;
}

function durationCheck(d: DurationRules): ValueCheck | undefined {
  return combine(orderedChecks<Duration>(d, nanos, showDuration));
}

function timestampCheck(t: TimestampRules): ValueCheck | undefined {
  const show = (v: Timestamp) => new Date(Number(v.seconds) * 1000 + Math.floor(v.nanos / 1e6)).toISOString();
  const checks = orderedChecks<Timestamp>({ ...t, in: [], notIn: [] }, nanos, show);
  const now = () => BigInt(Date.now()) * 1_000_000n;
  if (t.ltNow)
    checks.push((v, u, k, ctx) => nanos(v as Timestamp) >= now() && report(ctx, u, k, "must be in the past"));
  if (t.gtNow)
    checks.push((v, u, k, ctx) => nanos(v as Timestamp) <= now() && report(ctx, u, k, "must be in the future"));
  if (t.within) {
    const w = nanos(t.within);
    checks.push((v, u, k, ctx) => {
      const diff = nanos(v as Timestamp) - now();
      if ((diff < 0n ? -diff : diff) > w)
        report(ctx, u, k, `must be within ${showDuration(t.within as Duration)} of now`);
    });
  }
  return combine(checks);
}

function anyCheck(a: AnyRules): ValueCheck | undefined {
  // in / not_in compare the type URL.
  const checks: ValueCheck[] = [];
  inNotIn(checks, a.in, a.notIn, (v) => v);
  const check = combine(checks);
  return check && ((v, u, k, ctx) => check((v as Any).typeUrl, u, k, ctx));
}
