// The content-addressed store: a resource with the same type, content,
// version and TTL is one EncodedResource, held once however many node groups
// (or parts) contain it, counted by the slots that hold it and dropped when
// the last goes. Content found valid once is not checked again while held.
import type { Message } from "@bufbuild/protobuf";
import type { EncodedResource } from "./types.js";

interface Entry {
  readonly enc: EncodedResource;
  refs: number;
}

// Within a type, the content hash is the key when the version is the derived
// one (the common case: no string is built); a host version or a TTL joins it.
function keyOf(enc: EncodedResource): string {
  if (enc.version === enc.hash && enc.ttlMs === undefined) return enc.hash;
  return `${enc.hash}\u0000${enc.version}\u0000${enc.ttlMs ?? ""}`;
}

/** What the store holds. */
export interface StoreStats {
  /** Distinct resources held. */
  readonly resources: number;
  /** Their encoded bytes. */
  readonly resourceBytes: number;
  /** Slots (group, type, name) holding them: resources × how often each is shared. */
  readonly references: number;
}

/** Interns encoded resources and counts who holds them. */
export class ResourceStore {
  // Type URL → key → entry.
  readonly #entries = new Map<string, Map<string, Entry>>();
  // Frozen messages promise not to change: their encoding is remembered per
  // object, so the same object handed in again (a memoized builder's output)
  // is neither encoded nor hashed again.
  readonly #byMessage = new WeakMap<Message, EncodedResource>();
  // The held objects themselves, so an input that is one (a memoized
  // builder's output again) is recognised without building its key.
  readonly #held = new WeakSet<EncodedResource>();
  #bytes = 0;
  #count = 0;
  #references = 0;

  /** The encoding remembered for a frozen message of this type, if any. */
  encodingOf(message: Message, typeUrl: string): EncodedResource | undefined {
    const enc = this.#byMessage.get(message);
    return enc && enc.typeUrl === typeUrl ? enc : undefined;
  }

  /** Remembers the encoding of a frozen message. */
  rememberEncoding(message: Message, enc: EncodedResource): void {
    if (Object.isFrozen(message)) this.#byMessage.set(message, enc);
  }

  /** The held resource equal to `enc` (same type, content, version and TTL), if any. */
  find(enc: EncodedResource): EncodedResource | undefined {
    if (this.#held.has(enc)) return enc;
    return this.#entries.get(enc.typeUrl)?.get(keyOf(enc))?.enc;
  }

  /** One more slot holds `enc` (which must be the held object when one exists). */
  retain(enc: EncodedResource): void {
    const key = keyOf(enc);
    let entries = this.#entries.get(enc.typeUrl);
    if (!entries) {
      entries = new Map();
      this.#entries.set(enc.typeUrl, entries);
    }
    const e = entries.get(key);
    this.#references++;
    if (e) {
      e.refs++;
      return;
    }
    entries.set(key, { enc, refs: 1 });
    this.#count++;
    this.#held.add(enc);
    this.#bytes += enc.anyBytes.length;
  }

  /** A slot let go of `enc`; the last one drops it. */
  release(enc: EncodedResource): void {
    const key = keyOf(enc);
    const entries = this.#entries.get(enc.typeUrl);
    const e = entries?.get(key);
    if (!entries || !e || e.enc !== enc) return;
    this.#references--;
    if (--e.refs > 0) return;
    entries.delete(key);
    this.#count--;
    if (entries.size === 0) this.#entries.delete(enc.typeUrl);
    this.#held.delete(enc);
    this.#bytes -= enc.anyBytes.length;
  }

  /** Retains what `next` holds and releases what `prev` held, name by name (O(changed) when only names differ). */
  swap(prev: ReadonlyMap<string, EncodedResource> | undefined, next: ReadonlyMap<string, EncodedResource>): void {
    for (const [name, r] of next) {
      const old = prev?.get(name);
      if (old === r) continue;
      this.retain(r);
      if (old) this.release(old);
    }
    if (prev) for (const [name, r] of prev) if (!next.has(name)) this.release(r);
  }

  /** What is held. */
  stats(): StoreStats {
    return { resources: this.#count, resourceBytes: this.#bytes, references: this.#references };
  }
}
