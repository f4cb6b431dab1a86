// Just enough DER (X.690) to write X.509 certificates and to read the one
// field of a CA certificate a signer needs (its subject). Lengths are
// definite; integers are unsigned big-endian (serial numbers).

/** One encoded element. */
export type Der = Uint8Array;

function length(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** An element of any tag from its content. */
export function tlv(tag: number, content: Uint8Array): Der {
  return Buffer.concat([Uint8Array.of(tag), length(content.length), content]);
}

/** SEQUENCE of elements. */
export const seq = (...items: Der[]): Der => tlv(0x30, Buffer.concat(items));
/** SET of elements (given in DER order). */
export const set = (...items: Der[]): Der => tlv(0x31, Buffer.concat(items));
/** Context-specific, constructed `[n]` (explicit tagging). */
export const explicit = (n: number, inner: Der): Der => tlv(0xa0 | n, inner);
/** BOOLEAN. */
export const bool = (v: boolean): Der => tlv(0x01, Uint8Array.of(v ? 0xff : 0));
/** OCTET STRING. */
export const octets = (v: Uint8Array): Der => tlv(0x04, v);
/** BIT STRING with no unused bits. */
export const bits = (v: Uint8Array): Der => tlv(0x03, Buffer.concat([Uint8Array.of(0), v]));
/** UTF8String. */
export const utf8 = (s: string): Der => tlv(0x0c, Buffer.from(s, "utf8"));

/** INTEGER from unsigned big-endian bytes (a leading zero added when the top bit is set). */
export function uint(bytes: Uint8Array): Der {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const v = bytes.subarray(i);
  return tlv(0x02, (v[0] ?? 0) & 0x80 ? Buffer.concat([Uint8Array.of(0), v]) : v);
}

/** INTEGER from a non-negative whole number. */
export function int(n: number): Der {
  const bytes: number[] = [];
  for (let v = n; ; v = Math.floor(v / 256)) {
    bytes.unshift(v & 0xff);
    if (v < 256) break;
  }
  return uint(Uint8Array.from(bytes));
}

/** OBJECT IDENTIFIER from dotted form. */
export function oid(dotted: string): Der {
  const [a, b, ...rest] = dotted.split(".").map(Number) as [number, number, ...number[]];
  const out: number[] = [a * 40 + b];
  for (const n of rest) {
    const chunk: number[] = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/** A time as X.509 wants it: UTCTime through 2049, GeneralizedTime after. */
export function time(d: Date): Der {
  const iso = d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

/** The elements directly inside a constructed element (its header skipped). */
export function children(der: Uint8Array): Uint8Array[] {
  const { start, end } = header(der, 0);
  const out: Uint8Array[] = [];
  for (let i = start; i < end; ) {
    const h = header(der, i);
    out.push(der.subarray(i, h.end));
    i = h.end;
  }
  return out;
}

function header(der: Uint8Array, at: number): { start: number; end: number } {
  let i = at + 1;
  const first = der[i++] ?? 0;
  let len = first;
  if (first & 0x80) {
    len = 0;
    for (let k = 0; k < (first & 0x7f); k++) len = len * 256 + (der[i++] ?? 0);
  }
  if (i + len > der.length) throw new Error("DER element runs past its buffer");
  return { start: i, end: i + len };
}
