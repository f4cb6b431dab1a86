// Services handed around frozen: a source that freezes what it hands out
// (the built-in ones do) lets every push reuse its objects — and what was
// computed from them (validation, content keys) — instead of copying and
// checking the whole mesh again.
import type { Service } from "./model.js";

/** A deep-frozen copy of a service (the service itself when it is frozen already). */
export function frozenService(s: Service): Service {
  if (Object.isFrozen(s) && Object.isFrozen(s.endpoints)) return s;
  return Object.freeze({
    ...s,
    endpoints: Object.freeze(
      s.endpoints.map((e) =>
        Object.freeze({ ...e, ...(e.locality ? { locality: Object.freeze({ ...e.locality }) } : {}) }),
      ),
    ),
  });
}

const validated = new WeakSet<Service>();

/** True when this frozen object passed validation before (only frozen objects are remembered: they cannot change). */
export function knownValid(s: Service): boolean {
  return validated.has(s);
}

/** Remembers that a frozen service passed validation. */
export function rememberValid(s: Service): void {
  if (Object.isFrozen(s) && Object.isFrozen(s.endpoints)) validated.add(s);
}
