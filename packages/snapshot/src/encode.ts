import crypto from "node:crypto";
import { type Message, create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { type ResourceType, XdsError, canonicalResourceName } from "@xdskit/xds-types";
import { encodeAsAny } from "./any-writer.js";
import { encodeDeltaResource } from "./wire.js";
import type { EncodedResource, ResourceInput } from "./types.js";

// crypto.hash (Node 20.12+) is the one-shot form; it skips the Hash object.
const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: "hex") => string }).hash;

/**
 * Hex content hash of bytes (SHA-1, first 16 hex digits): stable across
 * processes and replicas. It names versions, it does not protect anything, so
 * the fastest digest Node offers in one shot is the right one.
 */
export function contentHash(bytes: Uint8Array): string {
  const hex = oneShot ? oneShot("sha1", bytes, "hex") : crypto.createHash("sha1").update(bytes).digest("hex");
  return hex.slice(0, 16);
}

class Encoded implements EncodedResource {
  #resourceBytes: Uint8Array | undefined;
  readonly ttlMs?: number;
  constructor(
    readonly name: string,
    readonly typeUrl: string,
    readonly version: string,
    readonly hash: string,
    readonly message: Message,
    readonly anyBytes: Uint8Array,
    ttlMs: number | undefined,
  ) {
    if (ttlMs !== undefined) this.ttlMs = ttlMs;
  }
  resourceBytes(): Uint8Array {
    this.#resourceBytes ??= encodeDeltaResource(this.name, this.version, this.anyBytes, this.ttlMs);
    return this.#resourceBytes;
  }
}

/** The message of a {@link ResourceInput}, bare or wrapped; undefined when it is neither. */
export function messageOf(input: ResourceInput): Message | undefined {
  if (typeof (input as Message).$typeName === "string") return input as Message;
  const resource = (input as { resource?: Message } | undefined)?.resource;
  return typeof resource?.$typeName === "string" ? resource : undefined;
}

/** Splits a {@link ResourceInput} into message, host version and TTL. */
export function unwrapInput(input: ResourceInput): { message: Message; version?: string; ttlMs?: number } {
  const message = messageOf(input);
  if (!message) {
    throw new XdsError("invalid_resource", "expected a protobuf-es message or { resource, version?, ttlMs? }");
  }
  if (message === input) return { message };
  const wrapped = input as { version?: string; ttlMs?: number };
  const out: { message: Message; version?: string; ttlMs?: number } = { message };
  if (wrapped.version !== undefined) out.version = wrapped.version;
  if (wrapped.ttlMs !== undefined) out.ttlMs = wrapped.ttlMs;
  return out;
}

/**
 * Encodes one resource: checks its type and name, encodes the message as an
 * Any in one pass, and hashes the bytes.
 * `where` prefixes error messages (e.g. `node group "g", CDS`).
 */
export function encodeResource(
  type: ResourceType,
  input: ResourceInput,
  where: string,
  /** The message's Any bytes when already written (see encodeAllAsAny). */
  encoded?: Uint8Array,
): EncodedResource {
  const { message, version, ttlMs } = unwrapInput(input);
  if (message.$typeName !== type.schema.typeName) {
    throw new XdsError(
      "type_mismatch",
      `${where}: a ${message.$typeName} was given for ${type.typeUrl}; expected ${type.schema.typeName}`,
    );
  }
  // xdstp:// names are kept in canonical form so one resource has one name.
  const name = canonicalResourceName(type.nameOf(message));
  if (!name) {
    throw new XdsError("invalid_resource", `${where}: a ${type.schema.name} has no name; every resource needs one`);
  }
  if (ttlMs !== undefined && !(ttlMs > 0 && Number.isFinite(ttlMs))) {
    throw new XdsError("invalid_resource", `${where} "${name}": ttlMs must be a positive number, got ${ttlMs}`);
  }
  let anyBytes: Uint8Array;
  try {
    anyBytes = encoded ?? encodeAsAny(type.schema, type.typeUrl, message);
  } catch (cause) {
    throw new XdsError("encode_failed", `${where} "${name}": cannot encode: ${String(cause)}`, { cause });
  }
  const hash = contentHash(anyBytes);
  // The TTL is part of what a Delta client holds: adding, changing or removing
  // it must reach the client as a new version even when the message is the same.
  const derived = ttlMs === undefined ? hash : `${hash}.ttl${ttlMs}`;
  return new Encoded(name, type.typeUrl, version ?? derived, hash, message, anyBytes, ttlMs);
}

const EMPTY_ANY = create(AnySchema);
const NO_BYTES = new Uint8Array(0);

/**
 * A Delta heartbeat entry: a `Resource` with name, version and TTL but no
 * body, which tells the client the resource it holds is still current and
 * restarts its TTL.
 */
export function heartbeatResource(name: string, typeUrl: string, version: string, ttlMs: number): EncodedResource {
  const bytes = encodeDeltaResource(name, version, undefined, ttlMs);
  return {
    name,
    typeUrl,
    version,
    hash: "",
    message: EMPTY_ANY,
    anyBytes: NO_BYTES,
    ttlMs,
    resourceBytes: () => bytes,
  };
}
