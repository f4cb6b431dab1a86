// What the load generator needs of a response — its type, version, nonce
// and how many resources it brings — read off the wire without decoding the
// resources. A fleet of thousands of simulated clients in one process would
// otherwise spend its CPU materialising every resource of every response,
// and time its own decoding instead of the server.

/** The top-level fields of a SotW or Delta discovery response. */
export interface ScannedResponse {
  /** SotW `version_info` or Delta `system_version_info`. */
  readonly version: string;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly resources: number;
}

const utf8 = new TextDecoder();

/**
 * Scans a DiscoveryResponse or DeltaDiscoveryResponse (both keep version,
 * resources, type and nonce in fields 1, 2, 4 and 5). Throws on bytes that
 * are not a well-formed message.
 */
export function scanResponse(buf: Uint8Array): ScannedResponse {
  let pos = 0;
  let version = "";
  let typeUrl = "";
  let nonce = "";
  let resources = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= buf.length) throw new Error("response: truncated varint");
      const b = buf[pos++] as number;
      // Lengths and tags fit in 2^53; beyond 7 bytes only their value matters, not exactness.
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 63) throw new Error("response: varint longer than 10 bytes");
    }
  };
  while (pos < buf.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 2) {
      const len = varint();
      const end = pos + len;
      if (end > buf.length) throw new Error(`response: field ${field} runs past the end`);
      if (field === 1) version = utf8.decode(buf.subarray(pos, end));
      else if (field === 2) resources++;
      else if (field === 4) typeUrl = utf8.decode(buf.subarray(pos, end));
      else if (field === 5) nonce = utf8.decode(buf.subarray(pos, end));
      pos = end;
    } else if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`response: wire type ${wire} of field ${field} is not expected here`);
  }
  if (pos !== buf.length) throw new Error("response: the last field runs past the end");
  return { version, typeUrl, nonce, resources };
}
