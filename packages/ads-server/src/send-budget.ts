// The server-wide budget of response bytes written to streams but not yet
// taken by HTTP/2: a push to many streams proceeds in waves instead of
// queueing every stream's copy of the world at once, so the memory of a push
// does not grow with streams × world.

/** A stream that can wait for room in the budget. */
export interface BudgetWaiter {
  /** Writes what it can now. */
  flush(): void;
}

/** Bytes in flight across all streams, and the streams waiting for room. */
export class SendBudget {
  #inFlight = 0;
  readonly #waiting = new Set<BudgetWaiter>();

  constructor(readonly maxBytes: number) {}

  /**
   * True when a write may start now. Past the budget, the stream queues and
   * is flushed when room opens; with nothing in flight anywhere, one write
   * always goes, however big, so a push always makes progress.
   */
  admit(waiter: BudgetWaiter): boolean {
    if (this.#inFlight === 0 || this.#inFlight < this.maxBytes) return true;
    this.#waiting.add(waiter);
    return false;
  }

  /** A write of `bytes` started. */
  take(bytes: number): void {
    this.#inFlight += bytes;
  }

  /** A write of `bytes` was taken by HTTP/2: the longest-waiting streams go next. */
  give(bytes: number): void {
    this.#inFlight -= bytes;
    for (const w of this.#waiting) {
      if (this.#inFlight >= this.maxBytes && this.#inFlight > 0) break;
      this.#waiting.delete(w);
      w.flush();
    }
  }

  /** A stream closed: it no longer waits. */
  forget(waiter: BudgetWaiter): void {
    this.#waiting.delete(waiter);
  }

  /** Bytes written to streams and not yet taken by HTTP/2, across the server. */
  get inFlightBytes(): number {
    return this.#inFlight;
  }

  /** Streams waiting for room. */
  get waiting(): number {
    return this.#waiting.size;
  }
}
