// The Kubernetes source's health as prom-client gauges, read when scraped.
import client from "prom-client";
import type { KubernetesSource } from "./source.js";

/** Options of {@link createKubernetesSourceMetrics}. */
export interface KubernetesSourceMetricsOptions {
  /** The prom-client registry to register on. Default: a new one. */
  registry?: client.Registry;
  /** Prefix of every metric name. Default none. */
  prefix?: string;
}

/**
 * `xdskit_source_connected` (1 while every watch is open),
 * `xdskit_source_lag_seconds` (how long some watch has been out of touch, 0
 * when connected), `xdskit_source_lists_total`, `xdskit_source_objects{kind}`
 * and `xdskit_source_rejected_services`, read at scrape time.
 */
export function createKubernetesSourceMetrics(
  source: KubernetesSource,
  options: KubernetesSourceMetricsOptions = {},
): client.Registry {
  const registry = options.registry ?? new client.Registry();
  const p = options.prefix ?? "";
  const gauge = (name: string, help: string, read: () => number) =>
    new client.Gauge({
      name: `${p}${name}`,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge("xdskit_source_connected", "1 while every watch on the API server is open, else 0.", () =>
    source.status().connected ? 1 : 0,
  );
  gauge(
    "xdskit_source_lag_seconds",
    "Seconds some watch has been out of touch with the API server (0 when connected); the last good config is served meanwhile.",
    () => source.status().lagMs / 1000,
  );
  gauge(
    "xdskit_source_lists_total",
    "Full lists: one per kind at start, one after each 410 Gone.",
    () => source.status().lists,
  );
  gauge(
    "xdskit_source_rejected_services",
    "Services whose latest form is refused (their last good form is served).",
    () => source.status().rejected.length,
  );
  new client.Gauge({
    name: `${p}xdskit_source_objects`,
    help: "Objects held, by kind.",
    labelNames: ["kind"],
    registers: [registry],
    collect() {
      this.reset();
      const by = new Map<string, number>();
      for (const w of source.status().watches) by.set(w.kind, (by.get(w.kind) ?? 0) + w.objects);
      for (const [kind, n] of by) this.set({ kind }, n);
    },
  });
  return registry;
}
