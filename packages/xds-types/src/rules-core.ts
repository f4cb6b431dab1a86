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
}

// Where a value is: a chain of segments (field names, list indexes, rendered
// map keys and Any types), turned into text only when something is reported,
// so a valid message costs no string building.
export type Path = { readonly up: Path; readonly seg: string | number } | undefined;

/** Checks a message found at `at`. */
export type Check = (msg: Obj, at: Path, ctx: Ctx) => void;
/** Checks a value found at segment `seg` under `up`. */
export type ValueCheck = (value: unknown, up: Path, seg: string | number, ctx: Ctx) => void;

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

export function report(ctx: Ctx, up: Path, seg: string | number | undefined, message: string): void {
  if (ctx.out.length < ctx.limit) ctx.out.push({ path: render(up, seg) || "(message)", message });
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

export function combine(checks: readonly ValueCheck[]): ValueCheck | undefined {
  if (checks.length === 0) return undefined;
  if (checks.length === 1) return checks[0];
  return (v, u, k, ctx) => {
    for (const c of checks) c(v, u, k, ctx);
  };
}
