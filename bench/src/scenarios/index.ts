import type { Scenario } from "../figure.js";
import churn from "./churn.js";
import etcdSource from "./etcd-source.js";
import fanout from "./fanout.js";
import idleMemory from "./idle-memory.js";
import istiod from "./istiod.js";
import kubernetes from "./kubernetes.js";
import largeWorld from "./large-world.js";
import reconnectStorm from "./reconnect-storm.js";
import sidecarFleet from "./sidecar-fleet.js";
import sidecarSources from "./sidecar-sources.js";
import sidecars from "./sidecars.js";
import tls from "./tls.js";
import snapshot from "./snapshot.js";
import sotwAcks from "./sotw-acks.js";

/** Every scenario, in the order `npm run bench` runs them. */
export const scenarios: readonly Scenario[] = [
  snapshot,
  fanout,
  churn,
  idleMemory,
  sidecars,
  reconnectStorm,
  largeWorld,
  tls,
  etcdSource,
  sidecarSources,
  sidecarFleet,
  sotwAcks,
];

/**
 * Scenarios run only when named (`--only NAME`): they need what the default
 * run does not (a Kubernetes control plane built by scripts/ensure-kube.sh;
 * an istiod binary named by XDSKIT_BENCH_ISTIOD).
 */
export const extraScenarios: readonly Scenario[] = [kubernetes, istiod];
