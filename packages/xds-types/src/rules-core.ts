// The shared vocabulary of the rule checks: where a value is, how a broken
// rule is reported, and how checks combine.
import type { Registry } from "@bufbuild/protobuf";

/** One broken constraint: where (proto field path) and what. */
export interface RuleViolation {
  /** Proto field names from the checked message, e.g. `load_assignment.endpoints[0].lb_endpoints[1].endpoint`. */
  readonly path: string;
  /** What the value must be, e.g. `must be at least 1 characters long`. */
  readonly message: string;
}

export type Obj = Record<string, unknown>;

export interface Ctx {
  readonly out: RuleViolation[];
  readonly limit: number;
  readonly registry: Registry | undefined;
  /**
   * Where the walk is: the segments (field names, list indexes, rendered map
   * keys and Any types) from the checked message down to the current one,
   * pushed and popped as the walk goes, and turned into text only when
   * something is reported, so a valid message costs no allocation.
   */
  readonly at: (string | number)[];
}

/** Checks a value found at segment `seg` of the message the walk is in (`ctx.at`). */
export type ValueCheck = (value: unknown, seg: string | number, ctx: Ctx) => void;

function render(at: readonly (string | number)[], seg: string | number | undefined): string {
  let out = "";
  const n = at.length + (seg === undefined ? 0 : 1);
  for (let i = 0; i < n; i++) {
    const s = (i < at.length ? at[i] : seg) as string | number;
    if (typeof s === "number") out += `[${s}]`;
    else if (s.startsWith("[") || s.startsWith("(")) out += s;
    else out += out ? `.${s}` : s;
  }
  return out;
}

/** Records a broken rule at segment `seg` of where the walk is (the message itself when undefined). */
export function report(ctx: Ctx, seg: string | number | undefined, message: string): void {
  if (ctx.out.length < ctx.limit) ctx.out.push({ path: render(ctx.at, seg) || "(message)", message });
}

// Rule fields are proto2 optionals: protobuf-es keeps set ones as own properties.
export function has<T extends object>(o: T, k: keyof T & string): boolean {
  return Object.hasOwn(o, k);
}

export function inNotIn<T>(
  checks: ValueCheck[],
  inList: readonly T[],
  notIn: readonly T[],
  show: (v: T) => string,
): void {
  if (inList.length > 0) {
    const text = inList.map(show).join(", ");
    checks.push((v, k, ctx) => {
      if (!inList.some((x) => x === (v as T))) report(ctx, k, `must be one of ${text}`);
    });
  }
  if (notIn.length > 0) {
    const text = notIn.map(show).join(", ");
    checks.push((v, k, ctx) => {
      if (notIn.some((x) => x === (v as T))) report(ctx, k, `must not be one of ${text}`);
    });
  }
}

export function combine(checks: readonly ValueCheck[]): ValueCheck | undefined {
  if (checks.length === 0) return undefined;
  if (checks.length === 1) return checks[0];
  return (v, k, ctx) => {
    for (const c of checks) c(v, k, ctx);
  };
}
