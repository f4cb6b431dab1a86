import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createSnapshotRegistry } from "@xdskit/snapshot";
import { world } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { type ProcessStats, startServerProcess } from "../child.js";
import { type Figure, type Scenario, figure } from "../figure.js";
import { goAvailable, startGcp, writeWorld } from "../gcp.js";
import { startLoad } from "../load.js";

const ORDER = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration];

/** One server's push: time from the set to every stream having everything, and its peak RSS. */
export interface Run {
  readonly ms: number;
  readonly peakRss: number;
  readonly bytes: number;
  readonly responses: number;
}

/** A server the fan-out is measured against. */
export interface Target {
  readonly port: number;
  /** Resolves once the server holds every stream's subscriptions. */
  armed(streams: number): Promise<void>;
  set(): Promise<void>;
  peakRss(): Promise<number>;
  stop(): Promise<void>;
}

/** Subscribes `streams` streams, installs the world, and times until every stream has everything. */
export async function push(
  target: Target,
  streams: number,
  subscriptions: Record<string, readonly string[]>,
  timeout: number,
  streamsPerChannel = 100,
  tlsFiles?: { ca: string; cert?: string; key?: string },
): Promise<Run> {
  const load = startLoad({
    target: `127.0.0.1:${target.port}`,
    streams,
    streamsPerChannel,
    subscriptions,
    ...(tlsFiles ? { tlsFiles } : {}),
  });
  try {
    await load.next("subscribed", timeout);
    await target.armed(streams);
    const t0 = performance.now();
    await target.set();
    const done = await load.next("done", timeout);
    return {
      ms: performance.now() - t0,
      peakRss: await target.peakRss(),
      bytes: done.bytes,
      responses: done.responses,
    };
  } finally {
    await load.stop();
    await target.stop();
  }
}

/** A server process of the bench's own (xdskit or the floor) as a target. */
export async function processTarget(
  name: string,
  args: Record<string, unknown>,
  watchesPerStream: number,
  timeout: number,
): Promise<Target> {
  const server = await startServerProcess(name, args);
  return {
    port: server.port,
    armed: (streams) =>
      untilAsync(async () => {
        const s = await server.request<{ connections: number; watches?: number }>("status");
        return s.connections === streams && (watchesPerStream === 0 || s.watches === streams * watchesPerStream);
      }, timeout),
    set: async () => {
      await server.request("set", {}, timeout);
    },
    peakRss: async () => (await server.request<ProcessStats>("stats")).peakRss,
    stop: () => server.stop(),
  };
}

async function untilAsync(ok: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the server to hold every subscription");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Fan-out: N streams from a separate process subscribe CDS/EDS/LDS/RDS; one
 * snapshot of 1,000 clusters, 1,000 CLAs × 10 endpoints, 1,000 listeners and
 * routes is set; time until every stream has received everything, and the
 * server's peak RSS. Every server runs in a process of its own: xdskit, the
 * floor (a bare grpc-js server writing the same bytes) and, when Go is on
 * PATH, go-control-plane's SnapshotCache and LinearCache serving the same bytes.
 */
const scenario: Scenario = {
  name: "fanout",
  description: "push a 1,000-service world to N ADS streams vs a bare grpc-js server and go-control-plane",
  async run(ctx) {
    const streams = Number(process.env.XDSKIT_BENCH_STREAMS) || (ctx.quick ? 100 : 1000);
    const services = ctx.quick ? 200 : 1000;
    const endpoints = 10;
    const names = Array.from({ length: services }, (_, i) => `svc-${i}`);
    const subscriptions = {
      [TypeUrl.Cluster]: [],
      [TypeUrl.ClusterLoadAssignment]: names,
      [TypeUrl.Listener]: [],
      [TypeUrl.RouteConfiguration]: names,
    };
    const timeout = ctx.quick ? 60_000 : 180_000;
    const budgetMb = Number(process.env.XDSKIT_BENCH_BUDGET_MB) || 0;
    const args = { services, endpoints, ...(budgetMb ? { maxInFlightBytes: budgetMb * 1024 * 1024 } : {}) };

    ctx.log(`fanout: ${streams} streams against xdskit`);
    const xdskit = await push(
      await processTarget("registry-server", args, ORDER.length, timeout),
      streams,
      subscriptions,
      timeout,
    );
    ctx.log(`fanout: ${streams} streams against the floor`);
    const floor = await push(await processTarget("floor-server", args, 0, timeout), streams, subscriptions, timeout);
    const params = {
      streams,
      services,
      endpointsPerCla: endpoints,
      bytesPerStream: Math.round(xdskit.bytes / streams),
      responsesPerStream: Number((xdskit.responses / streams).toFixed(2)),
    };
    const figures: Figure[] = [
      figure({
        scenario: "fanout",
        metric: "time until every stream has CDS+EDS+LDS+RDS (incl. setSnapshot)",
        params,
        value: xdskit.ms,
        unit: "ms",
        baseline: { name: "bare grpc-js server writing the same bytes", value: floor.ms },
        target: "<= 1.3x at 1,000 streams",
      }),
      figure({
        scenario: "fanout",
        metric: "server peak RSS during the push",
        params: { streams, services },
        value: xdskit.peakRss,
        unit: "bytes",
        baseline: { name: "bare grpc-js server", value: floor.peakRss },
        target: "<= 400 MiB at 1,000 streams",
      }),
    ];
    if (ctx.quick) {
      ctx.log("fanout: the go-control-plane baseline is not run with --quick");
      return figures;
    }
    if (!goAvailable()) {
      ctx.log("fanout: go is not on PATH; the go-control-plane baseline is skipped (install Go to compare)");
      return figures;
    }
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-gcp-")), "world.bin");
    writeWorld(file, createSnapshotRegistry().setSnapshot("gcp", world(services, endpoints)));
    for (const cache of ["snapshot", "linear"] as const) {
      ctx.log(
        `fanout: ${streams} streams against go-control-plane (${cache === "snapshot" ? "SnapshotCache" : "LinearCache"})`,
      );
      const gcp = await startGcp(cache, file);
      const run = await push(
        {
          port: gcp.port,
          // go-control-plane says nothing of its watches: wait for the requests to land.
          armed: () => new Promise((r) => setTimeout(r, 1500)),
          set: async () => {
            await gcp.set();
          },
          peakRss: () => gcp.peakRss(),
          stop: () => gcp.stop(),
        },
        streams,
        subscriptions,
        timeout,
      );
      const name = `go-control-plane v0.14 ${cache === "snapshot" ? "SnapshotCache" : "LinearCache"}`;
      figures.push(
        figure({
          scenario: "fanout",
          metric: "time until every stream has everything",
          params: { streams, services },
          value: xdskit.ms,
          unit: "ms",
          baseline: { name, value: run.ms },
        }),
        figure({
          scenario: "fanout",
          metric: "server peak RSS during the push",
          params: { streams, services },
          value: xdskit.peakRss,
          unit: "bytes",
          baseline: { name, value: run.peakRss },
        }),
      );
    }
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
    return figures;
  },
};

export default scenario;
