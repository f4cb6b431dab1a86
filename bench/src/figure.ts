/** One measured figure. Speeds are always reported against a baseline measured in the same run. */
export interface Figure {
  /** Scenario name, e.g. "snapshot-build". */
  readonly scenario: string;
  /** What was measured, e.g. "build 10k clusters + 10k CLAs". */
  readonly metric: string;
  /** Parameters of the run (counts, sizes, stream numbers…). */
  readonly params: Readonly<Record<string, number | string | boolean>>;
  /** The measured value of xdskit. */
  readonly value: number;
  /** Unit of `value` and `baseline`: "ms", "bytes", "bytes/stream"… */
  readonly unit: string;
  /** The baseline measured in the same run, and what it is. */
  readonly baseline?: { readonly name: string; readonly value: number };
  /** value / baseline (lower is better for times and sizes). */
  readonly ratio?: number;
  /** The target the issue sets, in words, e.g. "<= 1.3x". */
  readonly target?: string;
}

/** What a scenario gets from the runner. */
export interface ScenarioContext {
  /** A small, fast run (CI smoke): the whole suite under a minute. */
  readonly quick: boolean;
  /** Progress output for people (stderr); figures go through the return value. */
  log(message: string): void;
}

/** A benchmark scenario. Every loop in it is bounded in count and time. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  run(ctx: ScenarioContext): Promise<Figure[]>;
}

/** Builds a figure with its ratio computed from value and baseline. */
export function figure(f: Omit<Figure, "ratio">): Figure {
  const ratio = f.baseline && f.baseline.value !== 0 ? f.value / f.baseline.value : undefined;
  return ratio === undefined ? f : { ...f, ratio };
}
