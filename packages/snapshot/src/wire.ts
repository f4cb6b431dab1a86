// Hand-assembled protobuf wire bytes. Resources are encoded once when they
// enter the registry; responses are built by concatenating those bytes with a
// few header fields, which is what makes a push cheap. The layouts follow
// field-number order so the result is byte-identical to protobuf-es toBinary.
import type { EncodedResource } from "./types.js";

const utf8 = new TextEncoder();

/** Bytes a varint of `n` takes (n < 2^53). */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Writes a varint at `pos`; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** A length-delimited field (wire type 2) with its tag, ready to concatenate. */
export function lengthDelimited(fieldNumber: number, payload: Uint8Array): Uint8Array {
  const tag = (fieldNumber << 3) | 2;
  const out = new Uint8Array(varintSize(tag) + varintSize(payload.length) + payload.length);
  let pos = writeVarint(out, 0, tag);
  pos = writeVarint(out, pos, payload.length);
  out.set(payload, pos);
  return out;
}

/** Size of a length-delimited field holding `len` bytes. */
function fieldSize(fieldNumber: number, len: number): number {
  return varintSize((fieldNumber << 3) | 2) + varintSize(len) + len;
}

function writeField(buf: Uint8Array, pos: number, fieldNumber: number, payload: Uint8Array): number {
  pos = writeVarint(buf, pos, (fieldNumber << 3) | 2);
  pos = writeVarint(buf, pos, payload.length);
  buf.set(payload, pos);
  return pos + payload.length;
}

// The type_url field of an Any is the same for every resource of a type:
// encode it once per type URL.
const anyPrefixes = new Map<string, Uint8Array>();

/** Encodes a `google.protobuf.Any` from a type URL and already-encoded message bytes. */
export function encodeAny(typeUrl: string, value: Uint8Array): Uint8Array {
  let prefix = anyPrefixes.get(typeUrl);
  if (!prefix) {
    prefix = typeUrl ? lengthDelimited(1, utf8.encode(typeUrl)) : new Uint8Array(0);
    if (anyPrefixes.size < 1024) anyPrefixes.set(typeUrl, prefix);
  }
  const out = new Uint8Array(prefix.length + (value.length ? fieldSize(2, value.length) : 0));
  out.set(prefix, 0);
  if (value.length) writeField(out, prefix.length, 2, value);
  return out;
}

/**
 * Encodes an `envoy.service.discovery.v3.Resource` (Delta's wrapper) from
 * pre-encoded Any bytes: version (1), resource (2), name (3), ttl (6).
 * Without `anyBytes` it is a TTL heartbeat.
 */
export function encodeDeltaResource(
  name: string,
  version: string,
  anyBytes: Uint8Array | undefined,
  ttlMs?: number,
): Uint8Array {
  const parts: [number, Uint8Array][] = [];
  if (version) parts.push([1, utf8.encode(version)]);
  // No body is a heartbeat: the client keeps what it has and restarts the TTL.
  if (anyBytes) parts.push([2, anyBytes]);
  if (name) parts.push([3, utf8.encode(name)]);
  if (ttlMs !== undefined) parts.push([6, encodeDuration(ttlMs)]);
  let size = 0;
  for (const [f, p] of parts) size += fieldSize(f, p.length);
  const out = new Uint8Array(size);
  let pos = 0;
  for (const [f, p] of parts) pos = writeField(out, pos, f, p);
  return out;
}

/** Encodes a `google.protobuf.Duration` of `ms` milliseconds. */
function encodeDuration(ms: number): Uint8Array {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  const out = new Uint8Array(2 + varintSize(seconds) + (nanos ? 1 + varintSize(nanos) : 0));
  let pos = 0;
  if (seconds) {
    out[pos++] = 0x08;
    pos = writeVarint(out, pos, seconds);
  }
  if (nanos) {
    out[pos++] = 0x10;
    pos = writeVarint(out, pos, nanos);
  }
  return out.subarray(0, pos);
}

function concatFields(fieldNumber: number, items: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const b of items) size += fieldSize(fieldNumber, b.length);
  const out = new Uint8Array(size);
  let pos = 0;
  for (const b of items) pos = writeField(out, pos, fieldNumber, b);
  return out;
}

// Bodies are cached by the identity of the resource array: the registry hands
// the same array to every watch that gets the same set, so N streams share
// one body.
const sotwBodies = new WeakMap<readonly EncodedResource[], Uint8Array>();
const deltaBodies = new WeakMap<readonly EncodedResource[], Uint8Array>();

/**
 * The `resources` field (2) entries of a DiscoveryResponse for a set of
 * resources, concatenated. Cached per array, so streams that receive the same
 * response share the bytes.
 */
export function sotwBody(resources: readonly EncodedResource[]): Uint8Array {
  let body = sotwBodies.get(resources);
  if (!body) {
    body = concatFields(
      2,
      resources.map((r) => r.anyBytes),
    );
    sotwBodies.set(resources, body);
  }
  return body;
}

/** The `resources` field (2) entries of a DeltaDiscoveryResponse (Resource wrappers), cached per array. */
export function deltaBody(resources: readonly EncodedResource[]): Uint8Array {
  let body = deltaBodies.get(resources);
  if (!body) {
    body = concatFields(
      2,
      resources.map((r) => r.resourceBytes()),
    );
    deltaBodies.set(resources, body);
  }
  return body;
}

/** Header fields of a SotW response. */
export interface DiscoveryResponseHeader {
  readonly versionInfo: string;
  readonly typeUrl: string;
  readonly nonce: string;
  /** Identifier of the control plane (`control_plane.identifier`), if set. */
  readonly controlPlane?: string;
}

/** Header fields of a Delta response. */
export interface DeltaDiscoveryResponseHeader {
  readonly systemVersionInfo: string;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly removedResources?: readonly string[];
  readonly controlPlane?: string;
}

function controlPlaneBytes(identifier: string | undefined): Uint8Array | undefined {
  if (!identifier) return undefined;
  return lengthDelimited(1, utf8.encode(identifier));
}

function assemble(parts: readonly (readonly [number, Uint8Array] | Uint8Array)[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p instanceof Uint8Array ? p.length : fieldSize(p[0], p[1].length);
  const out = new Uint8Array(size);
  let pos = 0;
  for (const p of parts) {
    if (p instanceof Uint8Array) {
      out.set(p, pos);
      pos += p.length;
    } else {
      pos = writeField(out, pos, p[0], p[1]);
    }
  }
  return out;
}

/**
 * Assembles an encoded `DiscoveryResponse` from a shared body (see
 * {@link sotwBody}) and the per-response header: version_info (1), resources
 * (2), type_url (4), nonce (5), control_plane (6).
 */
export function assembleDiscoveryResponse(header: DiscoveryResponseHeader, body: Uint8Array): Uint8Array {
  const parts: (readonly [number, Uint8Array] | Uint8Array)[] = [];
  if (header.versionInfo) parts.push([1, utf8.encode(header.versionInfo)]);
  parts.push(body);
  if (header.typeUrl) parts.push([4, utf8.encode(header.typeUrl)]);
  if (header.nonce) parts.push([5, utf8.encode(header.nonce)]);
  const cp = controlPlaneBytes(header.controlPlane);
  if (cp) parts.push([6, cp]);
  return assemble(parts);
}

/**
 * Assembles an encoded `DeltaDiscoveryResponse`: system_version_info (1),
 * resources (2), type_url (4), nonce (5), removed_resources (6), control_plane (7).
 */
export function assembleDeltaDiscoveryResponse(header: DeltaDiscoveryResponseHeader, body: Uint8Array): Uint8Array {
  const parts: (readonly [number, Uint8Array] | Uint8Array)[] = [];
  if (header.systemVersionInfo) parts.push([1, utf8.encode(header.systemVersionInfo)]);
  parts.push(body);
  if (header.typeUrl) parts.push([4, utf8.encode(header.typeUrl)]);
  if (header.nonce) parts.push([5, utf8.encode(header.nonce)]);
  for (const name of header.removedResources ?? []) parts.push([6, utf8.encode(name)]);
  const cp = controlPlaneBytes(header.controlPlane);
  if (cp) parts.push([7, cp]);
  return assemble(parts);
}
