// Envoy's StringMatcher, for matchers clients send us (CSDS node matchers).
// `safe_regex` means RE2: patterns run on a linear-time engine, never on
// JavaScript's backtracking RegExp, so no pattern can stall the event loop.
import { XdsError } from "@xdskit/xds-types";
import type { StringMatcher } from "@xdskit/xds-types/gen/envoy/type/matcher/v3/string_pb";
import { RE2JS } from "re2js";

/** Longest regex a client may send, in characters. */
export const MAX_REGEX_LENGTH = 1024;

/** A compiled matcher: true when the value matches. */
export type CompiledMatcher = (value: string) => boolean;

/**
 * Compiles a StringMatcher (absent matches everything). Throws an
 * `invalid_argument` XdsError naming `where` for a regex that is too long or
 * not RE2 syntax.
 */
export function compileStringMatcher(m: StringMatcher | undefined, where: string): CompiledMatcher {
  if (!m) return () => true;
  const fold = (s: string) => (m.ignoreCase ? s.toLowerCase() : s);
  const p = m.matchPattern;
  switch (p.case) {
    case "exact": {
      const want = fold(p.value);
      return (v) => fold(v) === want;
    }
    case "prefix": {
      const want = fold(p.value);
      return (v) => fold(v).startsWith(want);
    }
    case "suffix": {
      const want = fold(p.value);
      return (v) => fold(v).endsWith(want);
    }
    case "contains": {
      const want = fold(p.value);
      return (v) => fold(v).includes(want);
    }
    case "safeRegex": {
      const regex = p.value.regex;
      if (regex.length > MAX_REGEX_LENGTH) {
        throw new XdsError(
          "invalid_argument",
          `${where}.safe_regex is ${regex.length} characters; the limit is ${MAX_REGEX_LENGTH}`,
        );
      }
      let re: RE2JS;
      try {
        re = RE2JS.compile(regex);
      } catch (err) {
        throw new XdsError(
          "invalid_argument",
          `${where}.safe_regex is not RE2 syntax: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      // Envoy matches the whole value, and safe_regex ignores ignore_case.
      return (v) => re.matches(v);
    }
    default:
      return () => true;
  }
}
