// Checks of scalar values (numbers, booleans, enums), of list and map sizes,
// and of the well-known messages (Duration, Timestamp, Any).
import type { Any, Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import type {
  AnyRules,
  DurationRules,
  EnumRules,
  FieldRules,
  MapRules,
  RepeatedRules,
  TimestampRules,
} from "./gen/validate/validate_pb.js";
import { type Ctx, type ValueCheck, combine, has, inNotIn, report } from "./rules-core.js";
import { bytesCheck, stringCheck } from "./rules-strings.js";

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

export function scalarRules(r: FieldRules): ValueCheck | undefined {
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
      return (v, k, ctx) => {
        if (v !== b.const) report(ctx, k, `must be ${b.const}`);
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
    checks.push((v, k, ctx) => ord(v as T) !== c && report(ctx, k, text));
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
    checks.push((v, k, ctx) => {
      const x = ord(v as T);
      if (!above(x) && !below(x)) report(ctx, k, `must be ${loText} or ${hiText}`);
    });
  } else if (lo !== undefined || hi !== undefined) {
    const text = [loText, hiText].filter(Boolean).join(" and ");
    checks.push((v, k, ctx) => {
      const x = ord(v as T);
      if (!above(x) || !below(x)) report(ctx, k, `must be ${text}`);
    });
  }
  if (r.in.length > 0) {
    const allowed = r.in.map(ord);
    const text = `must be one of ${r.in.map(show).join(", ")}`;
    checks.push((v, k, ctx) => !allowed.includes(ord(v as T)) && report(ctx, k, text));
  }
  if (r.notIn.length > 0) {
    const refused = r.notIn.map(ord);
    const text = `must not be one of ${r.notIn.map(show).join(", ")}`;
    checks.push((v, k, ctx) => refused.includes(ord(v as T)) && report(ctx, k, text));
  }
  return checks;
}

export function enumCheck(r: FieldRules, defined: readonly number[]): ValueCheck | undefined {
  if (r.type.case !== "enum") return undefined;
  const e: EnumRules = r.type.value;
  const checks: ValueCheck[] = [];
  if (has(e, "const")) checks.push((v, k, ctx) => v !== e.const && report(ctx, k, `must be ${e.const}`));
  if (e.definedOnly) {
    const known = new Set(defined);
    checks.push((v, k, ctx) => !known.has(v as number) && report(ctx, k, `must be a defined enum value, not ${v}`));
  }
  inNotIn(checks, e.in, e.notIn, String);
  return combine(checks);
}

export function repeatedBounds(r: RepeatedRules, list: readonly unknown[], k: string, ctx: Ctx): void {
  const n = list.length;
  if (has(r, "minItems") && n < Number(r.minItems))
    report(ctx, k, `must have at least ${r.minItems} item(s), has ${n}`);
  if (has(r, "maxItems") && n > Number(r.maxItems)) report(ctx, k, `must have at most ${r.maxItems} item(s), has ${n}`);
  if (r.unique && n > 1) {
    const seen = new Set<unknown>();
    for (const v of list) {
      const key = v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v;
      if (seen.has(key)) {
        report(ctx, k, `must not repeat an item (${String(v)} appears twice)`);
        return;
      }
      seen.add(key);
    }
  }
}

export function mapBounds(r: MapRules, n: number, k: string, ctx: Ctx): void {
  if (has(r, "minPairs") && n < Number(r.minPairs))
    report(ctx, k, `must have at least ${r.minPairs} entries, has ${n}`);
  if (has(r, "maxPairs") && n > Number(r.maxPairs)) report(ctx, k, `must have at most ${r.maxPairs} entries, has ${n}`);
}

// ---- well-known messages ----------------------------------------------------

function nanos(d: { seconds: bigint; nanos: number }): bigint {
  return d.seconds * 1_000_000_000n + BigInt(d.nanos);
}

function showDuration(d: Duration): string {
  const n = nanos(d);
  return n % 1_000_000_000n === 0n ? `${n / 1_000_000_000n}s` : `${Number(n) / 1e9}s`;
}

export function durationCheck(d: DurationRules): ValueCheck | undefined {
  return combine(orderedChecks<Duration>(d, nanos, showDuration));
}

export function timestampCheck(t: TimestampRules): ValueCheck | undefined {
  const show = (v: Timestamp) => new Date(Number(v.seconds) * 1000 + Math.floor(v.nanos / 1e6)).toISOString();
  const checks = orderedChecks<Timestamp>({ ...t, in: [], notIn: [] }, nanos, show);
  const now = () => BigInt(Date.now()) * 1_000_000n;
  if (t.ltNow) checks.push((v, k, ctx) => nanos(v as Timestamp) >= now() && report(ctx, k, "must be in the past"));
  if (t.gtNow) checks.push((v, k, ctx) => nanos(v as Timestamp) <= now() && report(ctx, k, "must be in the future"));
  if (t.within) {
    const w = nanos(t.within);
    checks.push((v, k, ctx) => {
      const diff = nanos(v as Timestamp) - now();
      if ((diff < 0n ? -diff : diff) > w) report(ctx, k, `must be within ${showDuration(t.within as Duration)} of now`);
    });
  }
  return combine(checks);
}

export function anyCheck(a: AnyRules): ValueCheck | undefined {
  // in / not_in compare the type URL.
  const checks: ValueCheck[] = [];
  inNotIn(checks, a.in, a.notIn, (v) => v);
  const check = combine(checks);
  return check && ((v, k, ctx) => check((v as Any).typeUrl, k, ctx));
}
