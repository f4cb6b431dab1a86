/** Reconnect timing: exponential with full jitter, capped. */
export interface BackoffOptions {
  /** First delay. Default 250 ms. */
  initialMs?: number;
  /** Largest delay. Default 30 s. */
  maxMs?: number;
  /** Growth per failed attempt. Default 2. */
  multiplier?: number;
  /** Fraction of the delay that is random (0 = none, 1 = full jitter). Default 0.5. */
  jitter?: number;
}

/**
 * Delays between reconnect attempts. Jitter spreads a fleet of clients that
 * lost the same server over time, so they do not all come back at once.
 */
export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #multiplier: number;
  readonly #jitter: number;
  #attempt = 0;

  constructor(
    options: BackoffOptions = {},
    /** The source of randomness (tests pass a fixed one). */
    readonly random: () => number = Math.random,
  ) {
    this.#initial = options.initialMs ?? 250;
    this.#max = options.maxMs ?? 30_000;
    this.#multiplier = options.multiplier ?? 2;
    this.#jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
    if (!(this.#initial > 0) || !(this.#max >= this.#initial) || !(this.#multiplier >= 1)) {
      throw new RangeError(
        `backoff needs 0 < initialMs <= maxMs and multiplier >= 1; got initialMs=${this.#initial}, maxMs=${this.#max}, multiplier=${this.#multiplier}`,
      );
    }
  }

  /** The delay before the next attempt; each call grows the next one. */
  next(): number {
    const base = Math.min(this.#max, this.#initial * this.#multiplier ** this.#attempt);
    this.#attempt++;
    return Math.round(base * (1 - this.#jitter) + base * this.#jitter * this.random());
  }

  /** Back to the first delay (after a connection that worked). */
  reset(): void {
    this.#attempt = 0;
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }
}
