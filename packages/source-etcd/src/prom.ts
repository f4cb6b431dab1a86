// The etcd source's health as prom-client gauges, read when scraped.
import client from "prom-client";
import type { EtcdSource } from "./source.js";

/** Options of {@link createEtcdSourceMetrics}. */
export interface EtcdSourceMetricsOptions {
  /** The prom-client registry to register on. Default: a new one. */
  registry?: client.Registry;
  /** Prefix of every metric name. Default none. */
  prefix?: string;
}

/**
 * `xdskit_source_connected` (1 while the watch is connected),
 * `xdskit_source_lag_seconds` (how long etcd has been out of reach, 0 when
 * connected), `xdskit_source_revision`, `xdskit_source_lists_total` and
 * `xdskit_source_rejected_keys`, read from the source at scrape time.
 */
export function createEtcdSourceMetrics(source: EtcdSource, options: EtcdSourceMetricsOptions = {}): client.Registry {
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
  gauge("xdskit_source_connected", "1 while the etcd watch is connected, else 0.", () =>
    source.status().connected ? 1 : 0,
  );
  gauge(
    "xdskit_source_lag_seconds",
    "Seconds the source has been out of touch with etcd (0 when connected); the last good config is served meanwhile.",
    () => source.status().lagMs / 1000,
  );
  gauge("xdskit_source_revision", "The etcd revision the source has caught up to.", () => source.status().revision);
  gauge(
    "xdskit_source_lists_total",
    "Full lists of the prefix: the first, and one after each lost watch.",
    () => source.status().lists,
  );
  gauge(
    "xdskit_source_rejected_keys",
    "Keys whose latest value is refused (their last good value is served).",
    () => source.status().rejected.length,
  );
  return registry;
}
