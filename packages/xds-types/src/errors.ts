/**
 * What went wrong, as a stable machine-readable code. Hosts branch on the
 * code; the message is for people.
 */
export type XdsErrorCode =
  | "decode_failed"
  | "encode_failed"
  | "unknown_type_url"
  | "type_mismatch"
  | "invalid_resource"
  | "duplicate_resource"
  | "inconsistent_snapshot"
  | "invalid_argument"
  | "not_found"
  | "resource_exhausted"
  | "unavailable"
  | "invalid_config"
  | "internal";

/** The one error class of xdskit: every failure carries a {@link XdsErrorCode}. */
export class XdsError extends Error {
  override readonly name = "XdsError";
  readonly code: XdsErrorCode;

  /** Creates an error with a code and a message that says what was wrong and what was expected. */
  constructor(code: XdsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `err` is an {@link XdsError}, optionally with the given code. */
export function isXdsError(err: unknown, code?: XdsErrorCode): err is XdsError {
  return err instanceof XdsError && (code === undefined || err.code === code);
}
