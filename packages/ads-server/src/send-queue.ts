// One stream's outgoing side: at most one pending response per type, written
// in make-before-break order while HTTP/2 flow control, the stream's own cap
// and the server-wide budget leave room.
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { assembleDeltaDiscoveryResponse, assembleDiscoveryResponse, deltaBody, sotwBody } from "@xdskit/snapshot";
import { TypeUrl } from "@xdskit/xds-types";
import type { ConnectionRef } from "./events.js";
import type { BudgetHolder } from "./send-budget.js";
import type { ServerContext } from "./server-context.js";
import type { PendingResponse, TypeState } from "./type-state.js";

// Make before break: clusters and their endpoints before the listeners and
// routes that use them. Types not listed go after, in subscription order.
const PUSH_ORDER: readonly string[] = [
  TypeUrl.Cluster,
  TypeUrl.ClusterLoadAssignment,
  TypeUrl.Listener,
  TypeUrl.RouteConfiguration,
];

function orderOf(typeUrl: string): number {
  const i = PUSH_ORDER.indexOf(typeUrl);
  return i < 0 ? PUSH_ORDER.length : i;
}

// How many sent nonces a Delta type remembers for ACK matching: clients may
// ACK each response, and answers cross new pushes on the wire.
const RECENT_NONCES = 16;

/** What the queue needs of the stream it writes to. */
export interface SendTarget {
  readonly id: string;
  readonly call: ServerDuplexStream<Buffer, Uint8Array>;
  readonly protocol: "sotw" | "delta";
  readonly ctx: ServerContext;
  readonly closed: boolean;
  ref(): ConnectionRef;
  /** The send deadline passed: the stream must end. */
  sendTimedOut(waitedMs: number, bytes: number, typeName: string): void;
}

// Queues to flush on the next microtask, in the order they were queued: one
// microtask for all the streams a change touches (a push to a thousand
// streams would otherwise make a thousand, each with its async context).
const toFlush: SendQueue[] = [];

function scheduleFlush(queue: SendQueue): void {
  toFlush.push(queue);
  if (toFlush.length === 1) queueMicrotask(flushAll);
}

function flushAll(): void {
  // Queues scheduled while these flush (none are, today) wait for the next microtask.
  const now = toFlush.splice(0);
  for (const q of now) {
    try {
      q.flushScheduled();
    } catch (err) {
      // As if each flush were a microtask of its own: the error surfaces, the others still flush.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}

/** The pending responses of one stream and the writes HTTP/2 has not taken yet. */
export class SendQueue implements BudgetHolder {
  #flushScheduled = false;
  // Responses written to the call whose bytes HTTP/2 has not yet taken (their
  // write callbacks have not fired), and their size.
  #inFlight = 0;
  #inFlightBytes = 0;
  readonly #pendingTypes: TypeState[] = [];

  constructor(readonly target: SendTarget) {}

  /** Makes `pending` the type's next response (replacing one not yet written) and schedules a flush. */
  queue(state: TypeState, pending: PendingResponse): void {
    const hadPending = state.pending !== undefined;
    state.pending = pending;
    if (!hadPending) this.#pendingTypes.push(state);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // A microtask lets every type touched by one registry change be queued
    // before the first is written, so the push order can be applied.
    scheduleFlush(this);
  }

  /** The scheduled flush (see scheduleFlush). */
  flushScheduled(): void {
    this.#flushScheduled = false;
    this.flush();
  }

  /**
   * Writes pending responses in push order while the stream has room: fewer
   * in-flight bytes than its cap, and fewer in-flight writes than the call's
   * own buffer holds, and room in the server-wide budget. The write callbacks
   * (HTTP/2 took the bytes) open room again.
   */
  flush(): void {
    while (!this.target.closed) {
      const state = this.#pickNext();
      // Only a stream with something to write waits for room.
      if (!state || !this.#hasRoom()) break;
      const pending = state.pending;
      state.pending = undefined;
      this.#pendingTypes.splice(this.#pendingTypes.indexOf(state), 1);
      if (pending) this.#write(state, pending);
    }
  }

  /** Number of responses waiting for room on the stream. */
  pendingCount(): number {
    return this.#pendingTypes.length;
  }

  /** Bytes written to the stream that HTTP/2 flow control has not yet taken. */
  inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  /** Drops what waits and gives the stream's bytes back to the server-wide budget. */
  close(): void {
    this.target.ctx.sendBudget.forget(this);
    this.#pendingTypes.length = 0;
  }

  sendTimedOut(waitedMs: number, bytes: number, typeName: string): void {
    this.target.sendTimedOut(waitedMs, bytes, typeName);
  }

  #pickNext(): TypeState | undefined {
    let best: TypeState | undefined;
    let bestKey = Number.POSITIVE_INFINITY;
    for (const s of this.#pendingTypes) {
      const p = s.pending;
      if (!p) continue;
      // Additions in forward order; pure removals after every addition, in reverse order.
      const key = p.removalOnly ? 100 + (PUSH_ORDER.length - orderOf(s.typeUrl)) : orderOf(s.typeUrl);
      if (key < bestKey) {
        best = s;
        bestKey = key;
      }
    }
    return best;
  }

  #hasRoom(): boolean {
    const { ctx, call } = this.target;
    if (!ctx.sendBudget.admit(this)) return false;
    if (this.#inFlight === 0) return true;
    return this.#inFlightBytes < ctx.maxInFlightBytesPerStream && this.#inFlight < call.writableHighWaterMark;
  }

  #written = (size: number): void => {
    this.#inFlight--;
    this.#inFlightBytes -= size;
    if (this.#pendingTypes.length > 0) this.flush();
    this.target.ctx.sendBudget.give(this);
  };

  #assemble(state: TypeState, pending: PendingResponse, nonce: string): Uint8Array {
    const { ctx, protocol } = this.target;
    const controlPlane = ctx.controlPlaneId ? { controlPlane: ctx.controlPlaneId } : {};
    if (protocol === "sotw") {
      return assembleDiscoveryResponse(
        { versionInfo: pending.version, typeUrl: state.typeUrl, nonce, ...controlPlane },
        sotwBody(pending.resources),
      );
    }
    return assembleDeltaDiscoveryResponse(
      {
        systemVersionInfo: pending.version,
        typeUrl: state.typeUrl,
        nonce,
        removedResources: pending.removed,
        ...controlPlane,
      },
      deltaBody(pending.resources),
    );
  }

  #write(state: TypeState, pending: PendingResponse): void {
    const { ctx, protocol, call } = this.target;
    const resp = pending.response;
    const metrics = ctx.metrics;
    // Timed only for metrics: a push writes to every stream, and each clock read counts then.
    const started = metrics ? performance.now() : 0;
    // A response shared by many streams is assembled once; a merged one is this stream's own.
    const shared =
      resp !== undefined &&
      pending.resources === resp.resources &&
      (protocol === "sotw" || pending.removed === resp.removed);
    const cache = protocol === "sotw" ? ctx.assembled : ctx.assembledDelta;
    let out = shared ? cache.get(resp) : undefined;
    // The registry hands out the same response again when a stream asks the
    // same thing of the same snapshot twice (a name set changed and changed
    // back). Nonces must not repeat on a stream, and a stream's nonces only
    // grow: an older shared one gets this stream a fresh assembly instead.
    if (out && out.seq <= state.sentSeq) out = undefined;
    if (!out) {
      const seq = ctx.nextNonce();
      const nonce = seq.toString(36);
      out = { nonce, seq, bytes: this.#assemble(state, pending, nonce) };
      if (shared && !cache.has(resp)) cache.set(resp, out);
    }
    const { nonce, bytes } = out;
    state.sentVersion = pending.version;
    state.sentNonce = nonce;
    state.sentChangedAt = resp?.changedAt;
    state.sentSeq = out.seq;
    state.sentAt = Date.now();
    if (protocol === "delta") {
      state.recentNonces.set(nonce, pending.version);
      if (state.recentNonces.size > RECENT_NONCES) {
        const oldest = state.recentNonces.keys().next().value;
        if (oldest !== undefined) state.recentNonces.delete(oldest);
      }
    }
    const size = bytes.length;
    this.#inFlight++;
    this.#inFlightBytes += size;
    ctx.sendBudget.take(this, size, state.shortName);
    try {
      if (metrics?.sent) {
        const written = performance.now();
        call.write(bytes, () => {
          metrics.sent?.(state.shortName, (performance.now() - written) / 1000, size);
          this.#written(size);
        });
      } else call.write(bytes, () => this.#written(size));
    } catch (err) {
      this.#inFlight--;
      this.#inFlightBytes -= size;
      ctx.sendBudget.withdraw(this);
      ctx.metrics?.sendError(state.shortName);
      ctx.log.warn("write failed", { connection: this.target.id, error: String(err) });
      return;
    }
    metrics?.push(state.shortName, (performance.now() - started) / 1000);
    if (!ctx.listens("push")) return;
    ctx.emit("push", {
      connection: this.target.ref(),
      typeUrl: state.typeUrl,
      version: pending.version,
      nonce,
      resources: pending.resources.length,
      removed: pending.removed.length,
      bytes: bytes.length,
    });
  }
}
