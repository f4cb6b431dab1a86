// The server-wide budget of response bytes written to streams but not yet
// taken by HTTP/2: a push to many streams proceeds in waves instead of
// queueing every stream's copy of the world at once, so the memory of a push
// does not grow with streams × world.
//
// Liveness: a stream that stops reading must not hold the budget for everyone
// else. Once its oldest write has waited `stalledAfterMs`, its bytes stop
// counting against the shared budget (it keeps its own per-stream cap, which
// the stream enforces), so the waves of the next push start anyway; once it
// has waited `sendTimeoutMs` the stream is told to end itself.

/** A stream that can wait for room in the budget. */
export interface BudgetWaiter {
  /** Writes what it can now. */
  flush(): void;
}

/** A stream whose writes the budget tracks. */
export interface BudgetHolder extends BudgetWaiter {
  /**
   * Its oldest write has not been taken by HTTP/2 for `sendTimeoutMs`: the
   * holder must end its stream (and then call `forget`).
   */
  sendTimedOut(waitedMs: number, bytes: number, typeName: string): void;
}

/** Options of {@link SendBudget}. */
export interface SendBudgetOptions {
  /** Bytes in flight across all streams before streams wait their turn. */
  readonly maxBytes: number;
  /** A stream whose oldest write waited this long stops counting against `maxBytes`. */
  readonly stalledAfterMs: number;
  /** A stream whose oldest write waited this long is ended; 0 never ends one. */
  readonly sendTimeoutMs: number;
}

interface Write {
  readonly bytes: number;
  readonly at: number;
  readonly typeName: string;
  /** Still counted against the shared budget. */
  counted: boolean;
}

interface Holding {
  /** Writes in flight, oldest first (HTTP/2 takes a stream's writes in order). */
  readonly writes: Write[];
  /** The holder's bytes stopped counting: it waited too long. Cleared when it has drained everything. */
  stalled: boolean;
  /** Bytes of all its writes in flight. */
  bytes: number;
}

/** Bytes in flight across all streams, the streams waiting for room, and the stall and deadline sweep. */
export class SendBudget {
  #inFlight = 0;
  readonly #waiting = new Set<BudgetWaiter>();
  /** Waiting streams that have had a write taken before: they go first. */
  readonly #waitingProven = new Set<BudgetWaiter>();
  /** Streams that have had a write taken by HTTP/2 at least once. */
  readonly #proven = new WeakSet<BudgetWaiter>();
  readonly #holders = new Map<BudgetHolder, Holding>();
  #sweep: NodeJS.Timeout | undefined;
  readonly #sweepMs: number;

  constructor(readonly options: SendBudgetOptions) {
    const limits = [options.stalledAfterMs, options.sendTimeoutMs].filter((x) => x > 0);
    this.#sweepMs = Math.max(25, Math.min(...limits) / 4);
  }

  /** Bytes in flight across all streams before streams wait their turn. */
  get maxBytes(): number {
    return this.options.maxBytes;
  }

  /**
   * True when a write may start now. Past the budget, the stream queues and
   * is flushed when room opens; with nothing in flight anywhere, one write
   * always goes, however big, so a push always makes progress. A stalled
   * holder is not held back: its bytes no longer count, and its own cap
   * bounds it. Streams that have drained a write before wait ahead of those
   * that never have, so clients that connect and never read cannot queue
   * in front of the fleet's working clients.
   */
  admit(waiter: BudgetWaiter): boolean {
    if (this.#inFlight === 0 || this.#inFlight < this.options.maxBytes) return true;
    if (this.#holders.get(waiter as BudgetHolder)?.stalled) return true;
    if (this.#proven.has(waiter)) this.#waitingProven.add(waiter);
    else this.#waiting.add(waiter);
    return false;
  }

  /** A write of `bytes` (a response of type `typeName`) started on `holder`. */
  take(holder: BudgetHolder, bytes: number, typeName: string): void {
    let h = this.#holders.get(holder);
    if (!h) {
      h = { writes: [], stalled: false, bytes: 0 };
      this.#holders.set(holder, h);
    }
    const counted = !h.stalled;
    h.writes.push({ bytes, at: performance.now(), typeName, counted });
    h.bytes += bytes;
    if (counted) this.#inFlight += bytes;
    this.#startSweep();
  }

  /** The oldest write of `holder` was taken by HTTP/2: the longest-waiting streams go next. */
  give(holder: BudgetHolder): void {
    const h = this.#holders.get(holder);
    // A holder that was forgotten (its stream ended) gave everything back then.
    const w = h?.writes.shift();
    if (!h || !w) return;
    this.#proven.add(holder);
    h.bytes -= w.bytes;
    if (w.counted) this.#inFlight -= w.bytes;
    if (h.writes.length === 0) this.#holders.delete(holder);
    this.#wake();
  }

  /** The newest write of `holder` never started (the call refused it): it no longer counts. */
  withdraw(holder: BudgetHolder): void {
    const h = this.#holders.get(holder);
    const w = h?.writes.pop();
    if (!h || !w) return;
    h.bytes -= w.bytes;
    if (w.counted) this.#inFlight -= w.bytes;
    if (h.writes.length === 0) this.#holders.delete(holder);
    this.#wake();
  }

  /** A stream closed: it no longer waits, and its writes no longer count (their callbacks may never come). */
  forget(holder: BudgetHolder): void {
    this.#waiting.delete(holder);
    this.#waitingProven.delete(holder);
    const h = this.#holders.get(holder);
    if (!h) return;
    this.#holders.delete(holder);
    for (const w of h.writes) if (w.counted) this.#inFlight -= w.bytes;
    this.#wake();
  }

  /** How long the holder's oldest write has waited and whether its bytes stopped counting; undefined with nothing in flight. */
  holding(holder: BudgetHolder): { waitedMs: number; stalled: boolean } | undefined {
    const h = this.#holders.get(holder);
    const oldest = h?.writes[0];
    if (!h || !oldest) return undefined;
    return { waitedMs: performance.now() - oldest.at, stalled: h.stalled };
  }

  /** Bytes written to streams and not yet taken by HTTP/2 that count against the budget. */
  get inFlightBytes(): number {
    return this.#inFlight;
  }

  /** Streams waiting for room. */
  get waiting(): number {
    return this.#waiting.size + this.#waitingProven.size;
  }

  /** Streams whose bytes stopped counting because they stopped draining. */
  get stalled(): number {
    let n = 0;
    for (const h of this.#holders.values()) if (h.stalled) n++;
    return n;
  }

  /** Stops the sweep timer (the server is gone). */
  close(): void {
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = undefined;
  }

  #wake(): void {
    for (const queue of [this.#waitingProven, this.#waiting]) {
      for (const w of queue) {
        if (this.#inFlight >= this.options.maxBytes && this.#inFlight > 0) return;
        queue.delete(w);
        w.flush();
      }
    }
  }

  #startSweep(): void {
    if (this.#sweep) return;
    this.#sweep = setInterval(() => this.#sweepOnce(), this.#sweepMs);
    this.#sweep.unref();
  }

  #sweepOnce(): void {
    if (this.#holders.size === 0) {
      this.close();
      return;
    }
    const now = performance.now();
    const { stalledAfterMs, sendTimeoutMs } = this.options;
    const expired: [BudgetHolder, number, Holding][] = [];
    let released = false;
    for (const [holder, h] of this.#holders) {
      const oldest = h.writes[0];
      if (!oldest) continue;
      const waited = now - oldest.at;
      if (sendTimeoutMs > 0 && waited >= sendTimeoutMs) expired.push([holder, waited, h]);
      else if (!h.stalled && waited >= stalledAfterMs) {
        h.stalled = true;
        for (const w of h.writes) {
          if (!w.counted) continue;
          w.counted = false;
          this.#inFlight -= w.bytes;
        }
        released = true;
      }
    }
    for (const [holder, waited, h] of expired) {
      holder.sendTimedOut(waited, h.bytes, h.writes[0]?.typeName ?? "");
      // The holder ends its stream and forgets itself; make sure of it.
      this.forget(holder);
    }
    if (released) this.#wake();
  }
}
