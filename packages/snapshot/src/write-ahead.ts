// Resources of a list written ahead in batches (see encodeAllAsAny) before the
// list is applied one resource at a time: the per-resource path then finds its
// Any bytes ready instead of starting a writer of its own for each.
import type { Message } from "@bufbuild/protobuf";
import type { ResourceType } from "@xdskit/xds-types";
import { encodeAllAsAny } from "./any-writer.js";
import { messageOf } from "./encode.js";
import type { ResourceStore } from "./store.js";
import type { ResourceInput } from "./types.js";

// Below this many resources a list is written one by one: batching would not pay.
const MIN_BATCH = 16;

/** Any bytes written ahead for the list being applied; emptied after each list. */
export class WriteAhead {
  readonly #written = new Map<Message, Uint8Array>();

  constructor(private readonly store: Pick<ResourceStore, "encodingOf">) {}

  /** The input's Any bytes, when written ahead. */
  bytesOf(input: ResourceInput): Uint8Array | undefined {
    if (this.#written.size === 0) return undefined;
    const m = messageOf(input);
    return m ? this.#written.get(m) : undefined;
  }

  /** Runs `apply` with the messages of `inputs` not encoded yet written ahead. */
  around<T>(type: ResourceType, inputs: readonly ResourceInput[] | undefined, apply: () => T): T {
    this.#write(type, inputs);
    try {
      return apply();
    } finally {
      this.#written.clear();
    }
  }

  #write(type: ResourceType, inputs: readonly ResourceInput[] | undefined): void {
    if (!inputs || inputs.length < MIN_BATCH) return;
    const todo: Message[] = [];
    for (const input of inputs) {
      const m = messageOf(input);
      // Another type's message, or one remembered encoded (frozen), is left to the per-resource path.
      if (!m || m.$typeName !== type.schema.typeName || this.store.encodingOf(m, type.typeUrl)) continue;
      todo.push(m);
    }
    if (todo.length < MIN_BATCH) return;
    try {
      const bytes = encodeAllAsAny(type.schema, type.typeUrl, todo);
      for (let i = 0; i < todo.length; i++) this.#written.set(todo[i] as Message, bytes[i] as Uint8Array);
    } catch {
      // One cannot be encoded: the per-resource path encodes each and says which.
    }
  }
}
