// A control plane's heap is small and steady (the model, the built
// resources) while what passes through it is large and short-lived: every
// ACK of every client is read into fresh buffers, every push writes fresh
// frames. V8 sizes the next old-generation limit from the live heap with a
// growth factor it lowers when the process is busy, so under a fleet's ACKs
// the limit ends up just above the live set and marking starts several times
// per change. A fixed, larger factor trades some resident memory (the heap
// may grow to about twice its live size between collections) for far fewer
// full collections: measured at 2,000 sidecars, a connection each, it halved
// the CPU per change (docs/limits.md).
import v8 from "node:v8";

/** The growth factor {@link tuneHeapGrowth} sets unless told otherwise, in percent. */
export const DEFAULT_HEAP_GROWTH_PERCENT = 100;

/**
 * Sets V8's old-generation growth factor for this process to
 * `1 + percent/100` (the `--heap-growing-percent` flag, applied at run time).
 * Process-wide: call it once, from the program that hosts the control plane,
 * not from a library. `percent` must be a whole number from 10 to 400.
 */
export function tuneHeapGrowth(percent: number = DEFAULT_HEAP_GROWTH_PERCENT): void {
  if (!Number.isInteger(percent) || percent < 10 || percent > 400) {
    throw new RangeError(`heap growth must be a whole percentage from 10 to 400, got ${percent}`);
  }
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
