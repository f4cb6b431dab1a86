// Steps the mesh scenarios share: streams to full config, then timed endpoint
// changes against a mesh server process.
import fs from "node:fs";
import type { Service } from "@xdskit/config-generator";
import { type ProcessStats, type ServerProcess, profileWindow, startServerProcess } from "../child.js";
import type { LoadPlan } from "../load-client.js";
import { type LoadClient, startLoads } from "../load.js";
import { percentile } from "../measure.js";
import { changed } from "../mesh.js";

/** The operator's world of the sidecar scenarios: how big, how many changes, how long to wait. */
export interface OperatorPlan {
  readonly services: number;
  readonly streams: number;
  readonly changes: number;
  readonly everyMs: number;
  readonly timeoutMs: number;
}

/** 1,000 services, 2,000 sidecars, 10 changes 2 s apart (a tenth of that, faster, when quick). */
export function operatorPlan(quick: boolean, timeoutMs: { quick: number; full: number }): OperatorPlan {
  return {
    services: quick ? 100 : 1000,
    streams: quick ? 50 : 2000,
    changes: quick ? 3 : 10,
    everyMs: quick ? 500 : 2000,
    timeoutMs: quick ? timeoutMs.quick : timeoutMs.full,
  };
}

/**
 * The k-th change made by editing a file: the world with {@link changed}'s
 * edits so far, rendered by `render`, written to `aside` and renamed over
 * `file` as an editor or a deploy tool saves. Resolves with when it was made.
 */
export function fileEdits(
  world: readonly Service[],
  file: string,
  aside: string,
  render: (services: readonly Service[]) => string,
): MakeChange {
  const edited = [...world];
  return async (k) => {
    const { i, svc } = changed(k, world.length);
    edited[i] = svc;
    const text = render(edited);
    const at = performance.timeOrigin + performance.now();
    await fs.promises.writeFile(aside, text);
    await fs.promises.rename(aside, file);
    return at;
  };
}

/** A load plan, spread over `processes` load clients. */
type SpreadPlan = Omit<LoadPlan, "target"> & { processes?: number };

/** Starts `plan` against a server on loopback `port`, its streams and open rate split over its processes. */
function startLoadsAt(port: number, plan: SpreadPlan): LoadClient {
  const { processes = 1, openPerSecond, ...rest } = plan;
  return startLoads(
    { ...rest, target: `127.0.0.1:${port}`, ...(openPerSecond ? { openPerSecond: openPerSecond / processes } : {}) },
    processes,
  );
}

/** Streams connected to full config. */
export interface FullConfig {
  readonly load: LoadClient;
  /** Time until the last stream had every type, from the load's start. */
  readonly ms: number;
  readonly bytes: number;
  /** Streams the server ended or dropped that were opened again (with `reopenAfterMs`). */
  readonly reopened: number;
  /** CPU of the busiest load process until then (no server gets its load to full config faster). */
  readonly loadCpuMs: number;
}

/** Opens the streams and waits until each has every type. */
export async function toFullConfig(
  server: ServerProcess,
  plan: {
    streams: number;
    subscriptions: Record<string, readonly string[]>;
    node: { ids?: readonly string[]; cluster?: string; userAgentName?: string };
    /** Streams sharing one connection (100 unless given; 1 is a connection per client, as a fleet has). */
    streamsPerChannel?: number | undefined;
    /** Load client processes the streams are spread over (1 unless given). */
    processes?: number | undefined;
    /** Streams opened per second, over all processes (all at once unless given). */
    openPerSecond?: number | undefined;
    /** Reopen a stream the server ends after this many ms, as Envoy does (an error fails the run otherwise). */
    reopenAfterMs?: number | undefined;
  },
  timeoutMs: number,
): Promise<FullConfig> {
  const load = startLoadsAt(server.port, {
    streams: plan.streams,
    streamsPerChannel: plan.streamsPerChannel ?? 100,
    subscriptions: plan.subscriptions,
    node: plan.node,
    ...(plan.processes ? { processes: plan.processes } : {}),
    ...(plan.openPerSecond ? { openPerSecond: plan.openPerSecond } : {}),
    ...(plan.reopenAfterMs !== undefined ? { reopenAfterMs: plan.reopenAfterMs } : {}),
  });
  try {
    const t0 = performance.now();
    const done = await load.next("done", timeoutMs);
    return {
      load,
      ms: performance.now() - t0,
      bytes: done.bytes,
      reopened: done.reopened ?? 0,
      loadCpuMs: done.loadCpuMs ?? 0,
    };
  } catch (err) {
    await load.stop();
    throw err;
  }
}

/** Convergence of one-endpoint changes at every stream. */
export interface Convergence {
  readonly p50: number;
  readonly p99: number;
  /** Server CPU over the window, in cores. */
  readonly cores: number;
  /** Server CPU per change, in ms. */
  readonly cpuMsPerChange: number;
  readonly bytesPerStream: number;
  /**
   * Per change, ms from the change to the server handing its last response to
   * HTTP/2 (servers that report it: the mesh server); the rest of a stream's
   * latency is the wire and the load clients reading on the same cores.
   */
  readonly serverLastMs: number[];
}

/** Makes the k-th change and resolves with when (epoch ms) the source was edited; each must differ from the last. */
export type MakeChange = (k: number) => Promise<number>;

/** The mesh server's own change: one endpoint weight of service `(k × 7919) mod services`. */
export function serverChange(server: ServerProcess, services: number): MakeChange {
  return async (k) => (await server.request<{ at: number }>("change", { service: (k * 7919) % services })).at;
}

/**
 * Makes `changes` changes, every `everyMs`, and times each from the source
 * edit to its arrival at every stream.
 */
export async function convergence(
  server: ServerProcess,
  load: LoadClient,
  streams: number,
  opts: { changes: number; everyMs: number; change: MakeChange; timeoutMs: number },
): Promise<Convergence> {
  const latencies: number[] = [];
  const serverLastMs: number[] = [];
  let bytes = 0;
  const cpu0 = (await server.request<ProcessStats>("stats")).cpuMs;
  await profileWindow(server, true);
  const t0 = performance.now();
  for (let k = 0; k < opts.changes; k++) {
    const started = performance.now();
    await load.mark(opts.timeoutMs);
    const at = await opts.change(k);
    const marked = await load.next("marked", opts.timeoutMs);
    for (const a of marked.arrivals) latencies.push(a - at);
    const sent = await server.request<{ lastPushAt?: number }>("sent").catch(() => ({ lastPushAt: undefined }));
    if (sent.lastPushAt !== undefined && sent.lastPushAt > at) serverLastMs.push(sent.lastPushAt - at);
    bytes += marked.bytes;
    const rest = opts.everyMs - (performance.now() - started);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  }
  const cpu1 = (await server.request<ProcessStats>("stats")).cpuMs;
  await profileWindow(server, false);
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cores: (cpu1 - cpu0) / (performance.now() - t0),
    cpuMsPerChange: (cpu1 - cpu0) / opts.changes,
    bytesPerStream: bytes / opts.changes / streams,
    serverLastMs,
  };
}

/** A source-backed server's figures: read time, memory, and convergence of changes. */
export interface SourceRun {
  /** From the load's start until the last stream had every type. */
  readonly fullConfigMs: number;
  /** Server CPU from the load's start until every stream had every type. */
  readonly fullConfigCpuMs: number;
  /** The busiest load process's CPU over the same time. */
  readonly fullConfigLoadCpuMs: number;
  /** Streams ended by the server and opened again on the way to full config. */
  readonly reopened: number;
  readonly readMs: number;
  readonly rss: number;
  readonly peakRss: number;
  readonly churn: Convergence;
}

/**
 * Opens `plan.streams` streams to full config on a server reading a source,
 * then times `plan.changes` changes made by `change`, `everyMs` apart.
 */
export async function runSourceWorld(
  server: ServerProcess,
  plan: {
    streams: number;
    subscriptions: Record<string, readonly string[]>;
    node: { ids?: readonly string[]; cluster?: string; userAgentName?: string };
    streamsPerChannel?: number;
    reopenAfterMs?: number;
    changes: number;
    everyMs: number;
    timeoutMs: number;
  },
  change: MakeChange,
  log: (m: string) => void,
): Promise<SourceRun> {
  const cpu0 = (await server.request<{ cpuMs: number }>("cpu")).cpuMs;
  const full = await toFullConfig(
    server,
    {
      streams: plan.streams,
      subscriptions: plan.subscriptions,
      node: plan.node,
      streamsPerChannel: plan.streamsPerChannel,
      reopenAfterMs: plan.reopenAfterMs,
    },
    plan.timeoutMs,
  );
  try {
    const fullConfigCpuMs = (await server.request<{ cpuMs: number }>("cpu")).cpuMs - cpu0;
    log(
      `full config at ${plan.streams} streams in ${full.ms.toFixed(0)} ms, ${fullConfigCpuMs.toFixed(0)} ms of server CPU, ${full.loadCpuMs.toFixed(0)} ms of load CPU${full.reopened ? ` (${full.reopened} streams ended by the server and opened again)` : ""}`,
    );
    await new Promise((r) => setTimeout(r, 1000));
    const settled = await server.request<ProcessStats & { readMs: number }>("stats");
    const churn = await convergence(server, full.load, plan.streams, {
      changes: plan.changes,
      everyMs: plan.everyMs,
      change,
      timeoutMs: plan.timeoutMs,
    });
    const end = await server.request<ProcessStats>("stats");
    return {
      fullConfigMs: full.ms,
      fullConfigCpuMs,
      fullConfigLoadCpuMs: full.loadCpuMs,
      reopened: full.reopened,
      readMs: settled.readMs,
      rss: settled.rss,
      peakRss: end.peakRss,
      churn,
    };
  } finally {
    await full.load.stop();
  }
}

/** The floor's figures: the same sidecars on a bare grpc-js server. */
export interface FloorRun {
  /** RSS 2 s after every stream had sent its subscriptions. */
  readonly rss: number;
  /** JavaScript heap and external memory then, after a GC. */
  readonly heap: number;
  /** The changes, when the plan makes any. */
  readonly churn: Convergence | undefined;
}

/**
 * The floor of a fleet: a bare grpc-js server (`servers/floor-server.ts`)
 * holding the plan's streams — the same load, connections and subscriptions
 * — and writing each of `changes` one-endpoint changes as one prepared EDS
 * response to every stream after the pilot's debounce; the streams ACK it as
 * they ACK a pilot. What the fleet costs with no control plane at all.
 */
export async function runFloor(
  load: SpreadPlan,
  plan: {
    services: number;
    endpoints: number;
    changes: number;
    everyMs: number;
    timeoutMs: number;
    /** Node's HTTP/2 alone, gRPC framed by hand, instead of grpc-js. */
    bareHttp2?: boolean;
  },
  log: (m: string) => void,
): Promise<FloorRun> {
  const floor = await startServerProcess("floor-server", {
    services: 1,
    endpoints: plan.endpoints,
    bareHttp2: plan.bareHttp2 === true,
  });
  try {
    const running = startLoadsAt(floor.port, load);
    try {
      const deadline = Date.now() + plan.timeoutMs;
      while ((await floor.request<{ connections: number }>("status")).connections < load.streams) {
        if (Date.now() > deadline) throw new Error(`the floor server saw fewer than ${load.streams} streams`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 2000));
      const settled = await floor.request<ProcessStats>("stats");
      if (plan.changes === 0) return { rss: settled.rss, heap: settled.heap, churn: undefined };
      const churn = await convergence(floor, running, load.streams, {
        changes: plan.changes,
        everyMs: plan.everyMs,
        change: serverChange(floor, plan.services),
        timeoutMs: plan.timeoutMs,
      });
      log(
        `floor${plan.bareHttp2 ? " (bare HTTP/2)" : ""}, ${load.streams} streams: p99 ${churn.p99.toFixed(0)} ms, ${churn.cpuMsPerChange.toFixed(0)} ms CPU per change`,
      );
      return { rss: settled.rss, heap: settled.heap, churn };
    } finally {
      await running.stop();
    }
  } finally {
    await floor.stop();
  }
}
