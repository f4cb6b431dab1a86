// Name sets shared by every stream that subscribed to the same names: a fleet
// of sidecars asking for the same 1,000 clusters holds one set, not one each.

interface Entry {
  readonly names: ReadonlySet<string>;
  /** The names as the first request carrying them listed them. */
  readonly list: readonly string[];
  /** Their wire bytes, when known: an ACK is matched against them byte for byte. */
  readonly raw: Uint8Array | undefined;
  refs: number;
}

/** Interned name sets, counted by the stream types holding them. */
export class NamePool {
  readonly #byKey = new Map<string, Entry>();

  /** The set (and list, and wire bytes) for `key`, built from `list` when no stream holds it yet. */
  acquire(
    key: string,
    list: readonly string[],
    raw: Uint8Array | undefined,
    build: () => ReadonlySet<string>,
  ): { names: ReadonlySet<string>; list: readonly string[]; raw: Uint8Array | undefined } {
    let e = this.#byKey.get(key);
    if (!e) {
      e = { names: build(), list: Object.freeze([...list]), raw: raw ? Uint8Array.from(raw) : undefined, refs: 0 };
      this.#byKey.set(key, e);
    }
    e.refs++;
    return e;
  }

  /** Gives back a hold on `key`. */
  release(key: string): void {
    const e = this.#byKey.get(key);
    if (!e) return;
    if (--e.refs <= 0) this.#byKey.delete(key);
  }

  /** Distinct sets held. */
  get size(): number {
    return this.#byKey.size;
  }
}
