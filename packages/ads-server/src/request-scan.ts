// Reads the header of a State-of-the-World DiscoveryRequest straight from the
// wire, without decoding its resource names: a client ACKs every response and
// repeats its whole subscription each time (an Envoy with 1,000 clusters sends
// 1,000 EDS names per ACK), so decoding them all is most of what a push costs
// the server. The names are identified by a digest of their bytes instead; a
// stream decodes them only when they change. An ACK's names are compared
// with the stream's current ones byte for byte, which costs far less than
// decoding (or hashing) them.
import crypto from "node:crypto";

/** What a request says besides its names. */
export interface ScannedRequest {
  readonly typeUrl: string;
  readonly versionInfo: string;
  readonly responseNonce: string;
  /** The names as they are on the wire (a view into the request). */
  readonly namesBytes: Uint8Array;
  /** How many names. */
  readonly nameCount: number;
  /** True when the request carries a node or an error detail: it needs a full decode anyway. */
  readonly needsDecode: boolean;
}

const utf8 = new TextDecoder();
const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: "hex") => string }).hash;

function digest(bytes: Uint8Array): string {
  return oneShot ? oneShot("sha1", bytes, "hex") : crypto.createHash("sha1").update(bytes).digest("hex");
}

/** A read position in a message's bytes; a varint that runs past the end (or past 35 bits) reads as -1. */
class WireCursor {
  pos = 0;

  constructor(readonly buf: Uint8Array) {}

  varint(): number {
    const buf = this.buf;
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= buf.length || shift > 35) return -1;
      const b = buf[this.pos++] as number;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  }
}

/**
 * Scans a DiscoveryRequest. Returns undefined when the bytes are not a
 * well-formed message this scanner can vouch for (the full decoder then
 * reports the problem) or its names are not contiguous. Given the names the
 * stream sent last (`expect`), a request repeating them is recognised with
 * one comparison instead of a walk over every name.
 */
export function scanDiscoveryRequest(
  buf: Uint8Array,
  expect?: readonly { readonly bytes: Uint8Array; readonly count: number }[],
): ScannedRequest | undefined {
  const w = new WireCursor(buf);
  let typeUrl = "";
  let versionInfo = "";
  let responseNonce = "";
  let needsDecode = false;
  let namesStart = -1;
  let namesEnd = -1;
  let names = 0;
  while (w.pos < buf.length) {
    const tagStart = w.pos;
    const tag = w.varint();
    if (tag <= 0) return undefined;
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) {
      if (w.varint() < 0) return undefined;
      continue;
    }
    if (wire === 1 || wire === 5) {
      w.pos += wire === 1 ? 8 : 4;
      if (w.pos > buf.length) return undefined;
      continue;
    }
    if (wire !== 2) return undefined;
    const len = w.varint();
    if (len < 0 || w.pos + len > buf.length) return undefined;
    const start = w.pos;
    w.pos += len;
    const end = w.pos;
    switch (field) {
      case 1:
        versionInfo = utf8.decode(buf.subarray(start, end));
        break;
      case 2:
      case 6:
        needsDecode = true;
        break;
      case 3:
        // Names are compared and hashed as one run of bytes: another field
        // between them (legal, never seen) sends the request to the full decoder.
        if (namesStart < 0) {
          namesStart = tagStart;
          const known = expect?.find(
            (e) =>
              tagStart + e.bytes.length <= buf.length &&
              // The run must end where the names end: the next field is not another name.
              (tagStart + e.bytes.length === buf.length || buf[tagStart + e.bytes.length] !== 0x1a) &&
              sameRun(buf, tagStart, e.bytes),
          );
          if (known) {
            w.pos = tagStart + known.bytes.length;
            namesEnd = w.pos;
            names = known.count;
            break;
          }
        } else if (namesEnd !== tagStart) return undefined;
        namesEnd = end;
        names++;
        break;
      case 4:
        typeUrl = utf8.decode(buf.subarray(start, end));
        break;
      case 5:
        responseNonce = utf8.decode(buf.subarray(start, end));
        break;
    }
  }
  const namesBytes = names === 0 ? NONE : buf.subarray(namesStart, namesEnd);
  return { typeUrl, versionInfo, responseNonce, namesBytes, nameCount: names, needsDecode };
}

const NONE = new Uint8Array(0);

function sameRun(buf: Uint8Array, at: number, run: Uint8Array): boolean {
  return Buffer.from(buf.buffer, buf.byteOffset + at, run.length).equals(run);
}

/** Identifies names by their wire bytes: same key, same names in the same order; "" for none. */
export function namesKeyOf(scanned: ScannedRequest): string {
  return scanned.nameCount === 0 ? "" : `${scanned.nameCount}:${digest(scanned.namesBytes)}`;
}

/**
 * Reads a Delta request that is a plain ACK — a type URL and a response
 * nonce, nothing else — without decoding it; undefined for anything else
 * (names, a node, an error detail, initial versions, unknown fields), which
 * the full decoder then reads.
 */
export function scanDeltaAck(buf: Uint8Array): { typeUrl: string; responseNonce: string } | undefined {
  const w = new WireCursor(buf);
  let typeUrl = "";
  let responseNonce = "";
  while (w.pos < buf.length) {
    // Fields 2 (type_url) and 6 (response_nonce), length-delimited: one-byte tags 0x12 and 0x32.
    const tag = buf[w.pos++];
    if (tag !== 0x12 && tag !== 0x32) return undefined;
    const len = w.varint();
    if (len < 0 || w.pos + len > buf.length) return undefined;
    const text = utf8.decode(buf.subarray(w.pos, w.pos + len));
    if (tag === 0x12) typeUrl = text;
    else responseNonce = text;
    w.pos += len;
  }
  return { typeUrl, responseNonce };
}
