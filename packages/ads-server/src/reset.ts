// Resetting a call's HTTP/2 stream. grpc-js ends a call by sending trailers,
// and trailers queue behind the response bytes the client has not read; for
// a client that never reads they never go, and the stream keeps its buffered
// bytes. A reset (RST_STREAM, not flow-controlled) goes at once and frees
// them. grpc-js does not expose the HTTP/2 stream, so this looks for it where
// grpc-js 1.x keeps it: the call's intercepting-call chain ends at an object
// holding it as `stream`.
import http2 from "node:http2";

interface MaybeCall {
  readonly call?: unknown;
  readonly nextCall?: unknown;
  readonly stream?: unknown;
}

function isHttp2Stream(x: unknown): x is http2.ServerHttp2Stream {
  return (
    typeof x === "object" &&
    x !== null &&
    typeof (x as http2.ServerHttp2Stream).close === "function" &&
    "rstCode" in (x as object)
  );
}

/** The HTTP/2 stream under a grpc-js server call, when it can be found. */
export function http2StreamOf(call: object): http2.ServerHttp2Stream | undefined {
  let node: unknown = (call as MaybeCall).call;
  for (let depth = 0; depth < 8 && typeof node === "object" && node !== null; depth++) {
    const c = node as MaybeCall;
    if (isHttp2Stream(c.stream)) return c.stream;
    node = c.nextCall;
  }
  return undefined;
}

/**
 * Resets a call's HTTP/2 stream with CANCEL on the next turn (after grpc-js
 * had its chance to send a status), unless it closed by itself meanwhile.
 * Returns false when the stream could not be found.
 */
export function resetCall(call: object): boolean {
  const stream = http2StreamOf(call);
  if (!stream) return false;
  setImmediate(() => {
    if (!stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
  });
  return true;
}
