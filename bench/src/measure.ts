/** Runs `fn` `rounds` times after one warm-up and returns the median wall time in milliseconds. */
export function medianMs(rounds: number, fn: () => void): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

/**
 * Medians of several functions measured in turns (a, b, c, a, b, c, …) after
 * one untimed run of each, so a noisy spell of a shared machine falls on all
 * of them alike instead of on whichever ran during it.
 */
export function interleavedMedianMs(rounds: number, fns: readonly (() => void)[]): number[] {
  for (const fn of fns) fn();
  const times = fns.map(() => [] as number[]);
  for (let i = 0; i < rounds; i++) {
    fns.forEach((fn, k) => {
      const t0 = process.hrtime.bigint();
      fn();
      times[k]?.push(Number(process.hrtime.bigint() - t0) / 1e6);
    });
  }
  return times.map((t) => {
    t.sort((a, b) => a - b);
    return t[Math.floor(t.length / 2)] ?? Number.NaN;
  });
}

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

// Without --expose-gc, the flag can still be turned on at run time; a fresh
// context then sees the gc function.
function findGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  } catch {
    return undefined;
  }
}
const collect = findGc();

/** Collects garbage (twice, to reach weak references); says whether it could. */
export function gc(): boolean {
  if (!collect) return false;
  collect();
  collect();
  return true;
}

/** Percentile (0..100) of a list of numbers. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? Number.NaN;
}

/** Polls `ok` every 10 ms until it holds; throws naming `what` after `ms`. */
export async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
