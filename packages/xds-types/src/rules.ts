// The constraints Envoy's protos declare with protoc-gen-validate options
// (`(validate.rules)`, `(validate.required)` on oneofs, `(validate.disabled)`),
// checked in TypeScript. Envoy rejects a resource that breaks any of them, so
// a control plane that checks them first refuses bad config with a precise
// path instead of pushing it to every client and collecting NACKs.
//
// Rules are read once per message type from the descriptors protobuf-es
// embeds and compiled into one function per type (rules-compile.ts); a type
// whose subtree declares no rule is never walked.
import type { DescMessage, Message, Registry } from "@bufbuild/protobuf";
import { planOf } from "./rules-compile.js";
import type { Ctx, Obj, RuleViolation } from "./rules-core.js";

export { declaresRules } from "./rules-compile.js";
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
  // The walk leaves the path as it found it; it is reset anyway in case a check threw.
  where.length = 0;
  const ctx: Ctx = { out, limit: options.limit ?? 20, registry: options.registry, at: where };
  planOf(schema).check(message as unknown as Obj, ctx);
  return out;
}

// Checks never start another check, so one path serves every call.
const where: (string | number)[] = [];
