// How long a node group lives: streams hold it (reference counts); once none
// does, or when it was named for a client that never held it, it goes idle
// after a grace period and its owner is told, so it can free the group.
// Reconnecting within the grace period costs no rebuild.

/** Reference counts of node groups and their idle timers. */
export class GroupLifetimes {
  /** Streams holding each node group. */
  readonly #refs = new Map<string, number>();
  /** Idle timers of groups no stream holds. */
  readonly #idle = new Map<string, NodeJS.Timeout>();

  constructor(
    readonly idleMs: number,
    readonly onIdle: (nodeGroup: string) => void,
  ) {}

  /** A group was named for a client: it goes idle unless a stream holds it. */
  named(nodeGroup: string): void {
    if (!this.#refs.has(nodeGroup)) this.#startIdle(nodeGroup);
  }

  /** A stream now holds the group. */
  retain(nodeGroup: string): void {
    this.#refs.set(nodeGroup, (this.#refs.get(nodeGroup) ?? 0) + 1);
    const timer = this.#idle.get(nodeGroup);
    if (timer) clearTimeout(timer);
    this.#idle.delete(nodeGroup);
  }

  /** A stream that held the group ended. */
  release(nodeGroup: string): void {
    const n = (this.#refs.get(nodeGroup) ?? 0) - 1;
    if (n > 0) {
      this.#refs.set(nodeGroup, n);
      return;
    }
    this.#refs.delete(nodeGroup);
    this.#startIdle(nodeGroup);
  }

  /** Groups some stream holds, with how many streams each. */
  get live(): ReadonlyMap<string, number> {
    return this.#refs;
  }

  #startIdle(nodeGroup: string): void {
    if (this.#idle.has(nodeGroup)) return;
    const timer = setTimeout(() => {
      this.#idle.delete(nodeGroup);
      if (!this.#refs.has(nodeGroup)) this.onIdle(nodeGroup);
    }, this.idleMs);
    timer.unref();
    this.#idle.set(nodeGroup, timer);
  }
}
