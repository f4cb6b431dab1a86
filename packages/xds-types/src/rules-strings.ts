// Checks of strings and bytes: lengths, patterns, and the well-known forms
// (header names and values, host names, IPs, URIs, e-mail addresses, UUIDs).
import { isIP } from "node:net";
import type { BytesRules, StringRules } from "./gen/validate/validate_pb.js";
import { type ValueCheck, combine, has, inNotIn, report } from "./rules-core.js";

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
    checks.push((v, k, ctx) => {
      if (measure(v as string) !== eq) report(ctx, k, `must be exactly ${eq} ${unit} long`);
    });
  if (lo !== undefined)
    checks.push((v, k, ctx) => {
      const n = (v as string).length;
      // Code points ≥ half the UTF-16 units; bytes ≥ the UTF-16 units.
      if ((bytes ? n : n >> 1) >= lo) return;
      if (measure(v as string) < lo) report(ctx, k, `must be at least ${lo} ${unit} long`);
    });
  if (hi !== undefined)
    checks.push((v, k, ctx) => {
      const n = (v as string).length;
      // Code points ≤ the UTF-16 units; bytes ≤ three times them.
      if ((bytes ? n * 3 : n) <= hi) return;
      if (measure(v as string) > hi) report(ctx, k, `must be at most ${hi} ${unit} long`);
    });
}

export function stringCheck(s: StringRules): ValueCheck | undefined {
  const checks: ValueCheck[] = [];
  if (has(s, "const")) checks.push((v, k, ctx) => v !== s.const && report(ctx, k, `must be "${s.const}"`));
  lengthCheck(checks, s, "len", "minLen", "maxLen", "characters", codePoints);
  lengthCheck(checks, s, "lenBytes", "minBytes", "maxBytes", "bytes", utf8Length);
  if (has(s, "pattern")) {
    const re = compilePattern(s.pattern);
    if (re) checks.push((v, k, ctx) => !re.test(v as string) && report(ctx, k, `must match the pattern ${s.pattern}`));
  }
  if (has(s, "prefix"))
    checks.push((v, k, ctx) => !(v as string).startsWith(s.prefix) && report(ctx, k, `must start with "${s.prefix}"`));
  if (has(s, "suffix"))
    checks.push((v, k, ctx) => !(v as string).endsWith(s.suffix) && report(ctx, k, `must end with "${s.suffix}"`));
  if (has(s, "contains"))
    checks.push((v, k, ctx) => !(v as string).includes(s.contains) && report(ctx, k, `must contain "${s.contains}"`));
  if (has(s, "notContains"))
    checks.push(
      (v, k, ctx) => (v as string).includes(s.notContains) && report(ctx, k, `must not contain "${s.notContains}"`),
    );
  inNotIn(checks, s.in, s.notIn, (v) => JSON.stringify(v));
  const wk = s.wellKnown;
  if (wk.case !== undefined && wk.value !== false) {
    const test = wellKnownString(wk.case, wk.case === "wellKnownRegex" ? wk.value : 0, !has(s, "strict") || s.strict);
    if (test) {
      const [ok, what] = test;
      checks.push((v, k, ctx) => {
        if (!ok(v as string)) report(ctx, k, `must be ${what}`);
      });
    }
  }
  const check = combine(checks);
  // ignore_empty: the rules hold only for a non-empty value.
  if (check && s.ignoreEmpty) return (v, k, ctx) => v !== "" && check(v, k, ctx);
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

export function bytesCheck(b: BytesRules): ValueCheck | undefined {
  const checks: ValueCheck[] = [];
  lengthCheck(checks, b, "len", "minLen", "maxLen", "bytes", (v) => (v as unknown as Uint8Array).length);
  const wk = b.wellKnown;
  if (wk.case !== undefined && wk.value) {
    const want = wk.case === "ipv4" ? 4 : wk.case === "ipv6" ? 16 : 0;
    checks.push((v, k, ctx) => {
      const n = (v as Uint8Array).length;
      if (want ? n !== want : n !== 4 && n !== 16) report(ctx, k, `must be ${want || "4 or 16"} bytes (an IP address)`);
    });
  }
  return combine(checks);
}
