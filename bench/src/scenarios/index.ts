import type { Scenario } from "../figure.js";
import snapshot from "./snapshot.js";

/** Every scenario, in the order `npm run bench` runs them. */
export const scenarios: readonly Scenario[] = [snapshot];
