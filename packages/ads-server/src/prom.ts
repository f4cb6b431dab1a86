import client from "prom-client";
import type { AdsMetrics } from "./metrics.js";

/** Options of {@link createPromMetrics}. */
export interface PromMetricsOptions {
  /** The prom-client registry to register on. Default: a new one (nothing global is touched). */
  registry?: client.Registry;
  /** Prefix of every metric name. Default `pilot_` style names are used as is: `xds_`. */
  prefix?: string;
}

/** The prom-client adapter: the classic pilot families, registered only where the host says. */
export function createPromMetrics(options: PromMetricsOptions = {}): AdsMetrics & { registry: client.Registry } {
  const registry = options.registry ?? new client.Registry();
  const p = options.prefix ?? "";
  const clients = new client.Gauge({
    name: `${p}pilot_xds`,
    help: "Number of connected xDS streams.",
    registers: [registry],
  });
  const pushes = new client.Counter({
    name: `${p}pilot_xds_pushes`,
    help: "xDS responses sent, by type.",
    labelNames: ["type"],
    registers: [registry],
  });
  const pushTime = new client.Histogram({
    name: `${p}pilot_xds_push_time`,
    help: "Time to assemble and write one xDS response, in seconds.",
    labelNames: ["type"],
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  const rejects = new client.Counter({
    name: `${p}pilot_total_xds_rejects`,
    help: "xDS responses rejected (NACKed) by clients, by type.",
    labelNames: ["type"],
    registers: [registry],
  });
  const sendErrors = new client.Counter({
    name: `${p}pilot_xds_send_errors`,
    help: "Failures to write an xDS response, by type.",
    labelNames: ["type"],
    registers: [registry],
  });
  const refused = new client.Counter({
    name: `${p}pilot_xds_refused`,
    help: "xDS streams refused or ended by a server limit, by limit (max_connections, max_streams_per_connection, max_names_per_request, max_subscribed_names, …).",
    labelNames: ["reason"],
    registers: [registry],
  });
  const convergence = new client.Histogram({
    name: `${p}pilot_proxy_convergence_time`,
    help: "Seconds from a config change being seen to a client ACKing the version it produced, by type.",
    labelNames: ["type"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 3, 5, 10, 20, 30],
    registers: [registry],
  });
  const expiredNonce = new client.Counter({
    name: `${p}pilot_xds_expired_nonce`,
    help: "Requests carrying a nonce that is not the latest sent on their stream (ignored), by type.",
    labelNames: ["type"],
    registers: [registry],
  });
  const sendTime = new client.Histogram({
    name: `${p}pilot_xds_send_time`,
    help: "Seconds from writing a response to HTTP/2 taking its bytes, by type.",
    labelNames: ["type"],
    buckets: [0.0001, 0.001, 0.01, 0.1, 0.5, 1, 5, 10],
    registers: [registry],
  });
  const configSize = new client.Histogram({
    name: `${p}pilot_xds_config_size_bytes`,
    help: "Size of the responses sent, in bytes, by type.",
    labelNames: ["type"],
    buckets: [1_000, 10_000, 100_000, 1_000_000, 10_000_000],
    registers: [registry],
  });
  return {
    registry,
    convergence: (type, seconds) => convergence.observe({ type }, seconds),
    staleNonce: (type) => expiredNonce.inc({ type }),
    sent: (type, seconds, bytes) => {
      sendTime.observe({ type }, seconds);
      configSize.observe({ type }, bytes);
    },
    refused: (reason) => refused.inc({ reason }),
    connections: (d) => clients.inc(d),
    push: (type, seconds) => {
      pushes.inc({ type });
      pushTime.observe({ type }, seconds);
    },
    nack: (type) => rejects.inc({ type }),
    sendError: (type) => sendErrors.inc({ type }),
  };
}
