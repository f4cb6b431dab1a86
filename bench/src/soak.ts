// npm run soak: streams, node ids, subscriptions and mesh files churned
// together against one server, then a check that nothing was left behind.
// The server (file source → controller → ADS) runs here; the clients run in
// a forked process so their memory is not counted. Bounded: a fixed number
// of rounds, each with a deadline; the whole run stops by itself.
//
//   npm run soak [-- --rounds 12 --streams 300 --churn 40]
import { type ChildProcess, fork } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createAdsServer } from "@xdskit/ads-server";
import { createDiscoveryController, createFileSource } from "@xdskit/config-generator";
import { TypeUrl } from "@xdskit/xds-types";
import type { SoakCommand, SoakEvent, SoakRound } from "./soak-client.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "12" },
    streams: { type: "string", default: "300" },
    churn: { type: "string", default: "40" },
    services: { type: "string", default: "300" },
    stuck: { type: "string", default: "100" },
  },
});
const ROUNDS = Number(values.rounds);
const STREAMS = Number(values.streams);
const CHURN = Number(values.churn);
const SERVICES = Number(values.services);
const STUCK = Number(values.stuck);
// The stuck phase closes streams that stop reading after this (the default is 30 s).
const SEND_TIMEOUT_MS = 20_000;
const IDLE_MS = 500;
const MB = 1024 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error("soak: run with --expose-gc (npm run soak does)");
  process.exit(2);
}

function meshYaml(version: number): string {
  let y = "services:\n";
  for (let i = 0; i < SERVICES; i++) {
    y += `  - name: svc-${i}\n    port: 8080\n    endpoints:\n`;
    for (let e = 0; e < 2; e++) y += `      - { address: 10.9.${(i + version) % 250}.${e + 1}, port: 8080 }\n`;
  }
  return y;
}

async function settleHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage().heapUsed;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-soak-"));
  const mesh = path.join(dir, "mesh.yaml");
  fs.writeFileSync(mesh, meshYaml(0));
  const file = createFileSource({ path: mesh, pollMs: 50, settleMs: 50, maxBytes: 4 * MB });
  const controller = createDiscoveryController({
    services: file,
    config: file,
    debounceMs: 50,
    registry: { nodeGroupIdleMs: IDLE_MS },
  });
  let rejections = 0;
  controller.on("sourceRejected", () => rejections++);
  // A small server-wide budget, so the stuck streams could hold all of it.
  const ads = createAdsServer({
    registry: controller.registry,
    maxInFlightBytes: 2 * MB,
    stalledAfterMs: 500,
    sendTimeoutMs: SEND_TIMEOUT_MS,
  });
  let sendTimeouts = 0;
  ads.on("sendTimeout", () => sendTimeouts++);
  const port = await ads.listen("127.0.0.1:0");
  const child: ChildProcess = fork(path.join(path.dirname(fileURLToPath(import.meta.url)), "soak-client.js"), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  // Sends a command to the client process and waits for its answer.
  const ask = <E extends SoakEvent["ev"]>(cmd: SoakCommand, want: E, what: string) =>
    new Promise<Extract<SoakEvent, { ev: E }>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what} took more than 120 s`)), 120_000);
      child.once("message", (m: SoakEvent) => {
        clearTimeout(timer);
        if (m.ev === "error") reject(new Error(`soak client: ${m.message}`));
        else if (m.ev !== want) reject(new Error(`soak client answered ${m.ev} to ${cmd.cmd}`));
        else resolve(m as Extract<SoakEvent, { ev: E }>);
      });
      child.send(cmd);
    });
  const round = (r: number) => {
    const plan: SoakRound = {
      round: r,
      target: `127.0.0.1:${port}`,
      streams: STREAMS,
      connections: 10,
      churn: CHURN,
      services: SERVICES,
    };
    return ask({ cmd: "round", round: plan }, "roundDone", `round ${r}`);
  };
  // Careless operators, while clients churn: edits, an empty save, a broken
  // file and one over the size limit.
  let version = 0;
  const edits = [
    () => fs.writeFileSync(mesh, meshYaml(++version)),
    () => fs.writeFileSync(mesh, ""),
    () => fs.writeFileSync(mesh, `${meshYaml(version)}oops: [\n`),
    () => fs.writeFileSync(mesh, `${meshYaml(version)}#${"x".repeat(5 * MB)}\n`),
    () => fs.writeFileSync(mesh, meshYaml(++version)),
  ];
  const idle = async () => {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (controller.nodeGroups().size > 0 || ads.connections.count() > 0)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 100));
  };

  // Streams that never read beside a healthy client, while the mesh is edited:
  // the healthy client must get every edit, and the stuck ones be closed.
  const stuckPhase = async () => {
    const healthyNodeId = "soak-healthy";
    await ask(
      {
        cmd: "stuck",
        stuck: {
          target: `127.0.0.1:${port}`,
          port,
          count: STUCK,
          healthyNodeId,
          cluster: "soak-stuck",
          services: SERVICES,
        },
      },
      "stuckReady",
      "opening the stuck streams",
    );
    const healthyEds = () => {
      const conn = ads.connections.byNodeId(healthyNodeId)[0];
      const eds = conn?.types.find((t) => t.typeUrl === TypeUrl.ClusterLoadAssignment);
      const current = conn && controller.registry.getSnapshot(conn.nodeGroup)?.get(TypeUrl.ClusterLoadAssignment);
      return { acked: eds?.ackedVersion, current: current?.version };
    };
    const EDITS = 30;
    let slowestMs = 0;
    for (let e = 0; e < EDITS; e++) {
      const before = healthyEds().current;
      const written = Date.now();
      fs.writeFileSync(mesh, meshYaml(++version));
      // The edit is applied (a new version) and the healthy client ACKed it.
      for (;;) {
        const { acked, current } = healthyEds();
        if (current !== before && acked === current) break;
        if (Date.now() - written > 5_000) {
          throw new Error(
            `stuck phase: the healthy client did not get edit ${e + 1} within 5 s (acked ${acked}, current ${current})`,
          );
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      slowestMs = Math.max(slowestMs, Date.now() - written);
    }
    const lastEdit = Date.now();
    // All the edits went through while every stuck stream was still open.
    const openAtLastEdit = ads.connections.count() - 1;
    while (ads.connections.count() > 1 && Date.now() - lastEdit < SEND_TIMEOUT_MS + 10_000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const closedMs = Date.now() - lastEdit;
    const { ended } = await ask({ cmd: "unstuck" }, "stuckDone", "closing the stuck streams");
    process.stdout.write(
      `stuck phase: ${EDITS} edits, slowest ${slowestMs} ms; ${ended} stuck streams ended by the server\n`,
    );
    return { edits: EDITS, slowestMs, closedMs, openAtLastEdit };
  };

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 100);
  const started = Date.now();
  let responses = 0;
  let refused = 0;
  try {
    // One round to warm every code path before the first measurement.
    await round(0);
    await idle();
    const heapStart = await settleHeap();
    const rssStart = process.memoryUsage().rss;
    for (let r = 1; r <= ROUNDS; r++) {
      const editing = setInterval(() => edits[(r + version) % edits.length]?.(), 400);
      try {
        const res = await round(r);
        responses += res.responses;
        refused += res.refused;
      } finally {
        clearInterval(editing);
      }
      process.stdout.write(
        `round ${r}/${ROUNDS}: groups ${controller.nodeGroups().size}, streams ${ads.connections.count()}, heap ${(process.memoryUsage().heapUsed / MB).toFixed(1)} MB\n`,
      );
    }
    const stuck = await stuckPhase();
    fs.writeFileSync(mesh, meshYaml(0));
    await file.reload();
    await controller.flush();
    await idle();
    const heapEnd = await settleHeap();
    const rssEnd = process.memoryUsage().rss;
    const stats = controller.registry.stats();
    const left = {
      nodeGroups: controller.nodeGroups().size,
      snapshots: stats.snapshots,
      liveNodeGroups: stats.liveNodeGroups,
      watches: stats.watches,
      subscriptions: stats.subscriptions,
      nameSets: stats.nameSets,
      cachedResponses: stats.cachedResponses,
      streams: ads.connections.count(),
      clientConnections: ads.clientConnectionCount(),
    };
    const growth = (heapEnd - heapStart) / heapStart;
    console.log(`
soak: ${ROUNDS} rounds × ${STREAMS} streams (${CHURN} subscription changes per Delta stream), ${SERVICES} services, ${((Date.now() - started) / 1000).toFixed(0)} s
  responses received            ${responses}   (streams that failed: ${refused})
  config edits refused          ${rejections}
  heap after GC, start → end    ${(heapStart / MB).toFixed(1)} MB → ${(heapEnd / MB).toFixed(1)} MB   (${(growth * 100).toFixed(1)} %, limit 10 %)
  stuck phase                   ${STUCK} streams never reading: a healthy client got all ${stuck.edits} edits (slowest ${stuck.slowestMs} ms) while ${stuck.openAtLastEdit} stayed open; stuck streams closed by the ${SEND_TIMEOUT_MS / 1000} s send timeout: ${sendTimeouts} (${stuck.closedMs} ms after the last edit)
  RSS start → end (peak)        ${(rssStart / MB).toFixed(0)} MB → ${(rssEnd / MB).toFixed(0)} MB (${(peakRss / MB).toFixed(0)} MB)
  left behind                   ${Object.entries(left)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")}`);
    const leaks = Object.entries(left).filter(([, v]) => v !== 0);
    const problems: string[] = [];
    if (leaks.length > 0) problems.push(`left behind: ${leaks.map(([k, v]) => `${k}=${v}`).join(", ")}`);
    if (growth > 0.1) problems.push(`heap grew ${(growth * 100).toFixed(1)} % (limit 10 %)`);
    if (refused > 0) problems.push(`${refused} client streams failed`);
    if (stuck.openAtLastEdit !== STUCK)
      problems.push(`only ${stuck.openAtLastEdit} stuck streams were open at the last edit`);
    if (sendTimeouts !== STUCK)
      problems.push(`${sendTimeouts} of ${STUCK} stuck streams were closed by the send timeout`);
    if (problems.length > 0) {
      console.error(`soak: FAILED: ${problems.join("; ")}`);
      process.exitCode = 1;
    } else console.log("soak: passed");
  } finally {
    clearInterval(sampler);
    child.send({ cmd: "stop" });
    controller.close();
    file.close();
    await ads.shutdown(1000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`soak: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
