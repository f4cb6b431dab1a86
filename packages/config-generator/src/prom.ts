// The discovery controller's metrics on prom-client, with Istio's names where
// Istio has the same measure. Registered only where the host says.
import client from "prom-client";
import type { DiscoveryController, PushRecord } from "./controller.js";

/** Options of {@link createControllerMetrics}. */
export interface ControllerMetricsOptions {
  /** The prom-client registry to register on. Default: a new one. */
  registry?: client.Registry;
  /** Prefix of every metric name. Default none. */
  prefix?: string;
}

/**
 * Counts a controller's pushes, debounce, triggers, refusals and node groups:
 * `pilot_debounce_time`, `pilot_push_triggers{type}`,
 * `pilot_total_rejected_configs`, `xdskit_push_duration_seconds`,
 * `xdskit_push_failures`, `xdskit_node_groups`. Returns a function that detaches it.
 */
export function createControllerMetrics(
  controller: DiscoveryController,
  options: ControllerMetricsOptions = {},
): {
  /** The registry the metrics are on. */
  registry: client.Registry;
  /** Stops counting the controller's events. */
  detach(): void;
} {
  const registry = options.registry ?? new client.Registry();
  const p = options.prefix ?? "";
  const debounce = new client.Histogram({
    name: `${p}pilot_debounce_time`,
    help: "Seconds a push waited from the first change merged into it (debounce).",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, 10],
    registers: [registry],
  });
  const triggers = new client.Counter({
    name: `${p}pilot_push_triggers`,
    help: "Pushes by what triggered them (endpoints, services, routes, gateways, secrets).",
    labelNames: ["type"],
    registers: [registry],
  });
  const rejected = new client.Counter({
    name: `${p}pilot_total_rejected_configs`,
    help: "Source input refused (the last good config stays).",
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: `${p}xdskit_push_duration_seconds`,
    help: "Seconds to build and write one push (every scope and workload part it touched).",
    buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  });
  const failures = new client.Counter({
    name: `${p}xdskit_push_failures`,
    help: "Parts whose build failed or was refused by the registry (they keep their last good config).",
    registers: [registry],
  });
  new client.Gauge({
    name: `${p}xdskit_node_groups`,
    help: "Node groups the controller builds for.",
    registers: [registry],
    collect() {
      this.set(controller.nodeGroups().size);
    },
  });
  const onPush = (e: PushRecord) => {
    debounce.observe(e.queuedMs / 1000);
    duration.observe(e.durationMs / 1000);
    for (const k of e.kinds) triggers.inc({ type: k });
  };
  const onRejected = () => rejected.inc();
  const onFailed = () => failures.inc();
  controller.on("push", onPush);
  controller.on("sourceRejected", onRejected);
  controller.on("pushFailed", onFailed);
  return {
    registry,
    detach: () => {
      controller.off("push", onPush);
      controller.off("sourceRejected", onRejected);
      controller.off("pushFailed", onFailed);
    },
  };
}
