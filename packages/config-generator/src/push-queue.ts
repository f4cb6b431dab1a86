import type { ChangeKind } from "./model.js";

/** A merged push: what changed and why. */
export interface PushRequest {
  readonly kinds: ReadonlySet<ChangeKind>;
  readonly reasons: readonly string[];
  /** How many source events were merged into this push. */
  readonly merged: number;
  /** When the first of them arrived (epoch ms): the push waited from then (debounce). */
  readonly firstAt: number;
}

/** Options of {@link createPushQueue}. */
export interface PushQueueOptions {
  /** Quiet period: a push waits until no event arrived for this long. Default 100 ms. */
  debounceMs?: number;
  /** A push never waits longer than this after the first queued event. Default 10 s. */
  maxDelayMs?: number;
  /** Runs a push; the next one waits until it settles. */
  onPush: (request: PushRequest) => void | Promise<void>;
  /** Called when `onPush` throws; the queue keeps going. */
  onError?: (error: unknown) => void;
}

/** Debounces and merges change events into pushes (pilot's debounce, in TypeScript). */
export interface PushQueue {
  /**
   * Queues a change. A `settled` one (its source already waited for quiet)
   * runs at once when nothing else is waiting; otherwise it joins the wait.
   */
  enqueue(change: { kinds: readonly ChangeKind[]; reason: string; settled?: boolean | undefined }): void;
  /** Runs anything queued now and waits until every push has settled. */
  flush(): Promise<void>;
  /** Number of events waiting. */
  readonly pending: number;
  /** Stops the timers; queued events are dropped. */
  close(): void;
}

/** Creates a push queue. */
export function createPushQueue(options: PushQueueOptions): PushQueue {
  const debounceMs = options.debounceMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  let kinds = new Set<ChangeKind>();
  let reasons: string[] = [];
  let count = 0;
  let firstAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let closed = false;

  const run = async (): Promise<void> => {
    timer = undefined;
    if (count === 0 || closed) return;
    if (running) {
      // One push at a time: try again once the current one settles.
      await running;
      return run();
    }
    const req: PushRequest = { kinds, reasons, merged: count, firstAt };
    kinds = new Set();
    reasons = [];
    count = 0;
    running = (async () => {
      try {
        await options.onPush(req);
      } catch (err) {
        options.onError?.(err);
      }
    })();
    await running;
    running = undefined;
    if (count > 0 && !timer && !closed) schedule();
  };

  const schedule = (quiet = debounceMs) => {
    if (timer) clearTimeout(timer);
    const wait = Math.max(0, Math.min(quiet, firstAt + maxDelayMs - Date.now()));
    timer = setTimeout(() => void run(), wait);
  };

  return {
    enqueue(change) {
      if (closed) return;
      const alone = count === 0;
      if (alone) firstAt = Date.now();
      count++;
      for (const k of change.kinds) kinds.add(k);
      if (!reasons.includes(change.reason)) reasons.push(change.reason);
      // A settled change alone is not debounced twice; what arrives before its
      // push runs (this turn of the event loop) still joins it.
      schedule(alone && change.settled === true ? 0 : debounceMs);
    },
    async flush() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      await run();
      if (running) await running;
    },
    get pending() {
      return count;
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
