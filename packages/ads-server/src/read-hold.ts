// grpc-js's message decoder keeps the slices of the last request it read
// until the next one starts: the compress-flag byte and the message's chunks
// are views on the chunk HTTP/2 delivered, so an idle stream holds the whole
// of its last request. A SotW sidecar's last request is an ACK listing its
// subscription (about 24 KB at 1,000 names): 10,000 idle sidecars would hold
// about 240 MB of requests already handled. Once a request is handled and the
// decoder is between messages, its references are pointed at values of its
// own that hold nothing. grpc-js does not expose the decoder, so this looks
// for it where grpc-js 1.x keeps it (beside the HTTP/2 stream, at the end of
// the call's intercepting chain); without it, nothing is released.

interface DecoderLike {
  readState: number;
  readCompressFlag: Buffer;
  readPartialMessage: Buffer[];
}

interface MaybeCall {
  readonly call?: unknown;
  readonly nextCall?: unknown;
  readonly decoder?: unknown;
}

// grpc-js's decoder state between messages (ReadState.NO_DATA).
const BETWEEN_MESSAGES = 0;

function isDecoder(x: unknown): x is DecoderLike {
  if (typeof x !== "object" || x === null) return false;
  const d = x as DecoderLike;
  return typeof d.readState === "number" && Buffer.isBuffer(d.readCompressFlag) && Array.isArray(d.readPartialMessage);
}

/** Releases what a stream's decoder holds of requests already read; see the module comment. */
export class ReadHold {
  // The flag the decoder is given back: a byte of its own (the decoder only
  // reads it, and replaces it when the next message starts).
  readonly #flag = Buffer.alloc(1);

  private constructor(readonly decoder: DecoderLike) {}

  /** The hold of a grpc-js server call's decoder, or undefined when it cannot be found. */
  static of(call: object): ReadHold | undefined {
    let node: unknown = (call as MaybeCall).call;
    for (let depth = 0; depth < 8 && typeof node === "object" && node !== null; depth++) {
      const c = node as MaybeCall;
      if (isDecoder(c.decoder)) return new ReadHold(c.decoder);
      node = c.nextCall;
    }
    return undefined;
  }

  /** After a request was handled: when no request is partly read, lets go of the last one's bytes. */
  release(): void {
    const d = this.decoder;
    if (d.readState !== BETWEEN_MESSAGES || d.readCompressFlag === this.#flag) return;
    d.readCompressFlag = this.#flag;
    d.readPartialMessage = [];
  }
}
