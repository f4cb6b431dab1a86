// The soak's clients, in their own process: each round opens streams with
// fresh node ids over several connections, SotW and Delta, churns their
// subscriptions, then closes them (half politely, half cancelled). Controlled
// over IPC; exits on its own after a hard time limit.
import * as grpc from "@grpc/grpc-js";
import { RawDeltaStream, RawStream, type StuckStreams, openStuckStreams } from "@xdskit/ads-server/testing";
import { type AdsClient, createAdsClient } from "@xdskit/adsc";
import { TypeUrl } from "@xdskit/xds-types";

/** A round the driver asks for. */
export interface SoakRound {
  readonly round: number;
  readonly target: string;
  readonly streams: number;
  readonly connections: number;
  /** Subscription changes per Delta stream. */
  readonly churn: number;
  /** Services in the mesh (names `svc-<i>`), so some subscriptions name real resources. */
  readonly services: number;
}

/** The stuck-client phase: streams that never read beside one healthy client. */
export interface SoakStuck {
  readonly target: string;
  readonly port: number;
  /** Stuck streams (four in five SotW, the rest Delta). */
  readonly count: number;
  /** Node id of the healthy client; the stuck ones share its cluster, so its pushes reach them too. */
  readonly healthyNodeId: string;
  readonly cluster: string;
  /** Services in the mesh: the stuck streams subscribe to all their endpoints too. */
  readonly services: number;
}

/** What the client process reports. */
export type SoakEvent =
  | { ev: "roundDone"; responses: number; refused: number }
  | { ev: "stuckReady" }
  | { ev: "stuckDone"; ended: number }
  | { ev: "error"; message: string };

/** What the driver asks of the client process. */
export type SoakCommand =
  | { cmd: "round"; round: SoakRound }
  | { cmd: "stuck"; stuck: SoakStuck }
  | { cmd: "unstuck" }
  | { cmd: "stop" };

const HARD_LIMIT_MS = 600_000;
const EDS = TypeUrl.ClusterLoadAssignment;

function nodeOf(round: number, i: number) {
  switch (i % 3) {
    case 0:
      // A sidecar with its own IP: its own node group, freed after it leaves.
      return {
        id: `sidecar~10.${round % 250}.${i >> 8}.${i & 255}~pod-${i}.soak~soak.svc.cluster.local`,
        cluster: "soak",
      };
    case 1:
      return { id: `proxyless-${round}-${i}`, cluster: `soak-${i % 5}`, userAgentName: "gRPC Node" };
    default:
      return { id: `sidecar~~pod-${round}-${i}`, cluster: "soak" };
  }
}

function names(services: number, seed: number, n = 200): string[] {
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    const x = (seed * 7919 + k * 104729) % (services * 3);
    // A third name real clusters, the rest names that do not exist (yet).
    out.push(x < services ? `outbound|8080||svc-${x}` : `ghost-${seed}-${k}`);
  }
  return out;
}

async function runRound(r: SoakRound): Promise<{ responses: number; refused: number }> {
  const clients = Array.from(
    { length: r.connections },
    () =>
      new grpc.Client(r.target, grpc.credentials.createInsecure(), {
        "grpc.use_local_subchannel_pool": 1,
        "grpc.max_receive_message_length": -1,
      }),
  );
  let responses = 0;
  let refused = 0;
  const work: Promise<void>[] = [];
  const streams: (RawStream | RawDeltaStream)[] = [];
  for (let i = 0; i < r.streams; i++) {
    const client = clients[i % clients.length] as grpc.Client;
    const node = nodeOf(r.round, i);
    if (i % 2 === 0) {
      const s = new RawStream(client);
      streams.push(s);
      work.push(
        (async () => {
          s.send({ node, typeUrl: TypeUrl.Cluster });
          const c = await s.next(20_000);
          responses++;
          s.ack(c);
          for (let k = 0; k < Math.max(1, r.churn >> 2); k++) {
            s.send({ typeUrl: EDS, resourceNames: names(r.services, r.round * 1000 + k) });
            if (k === 0) {
              await s.next(20_000);
              responses++;
            }
          }
        })(),
      );
    } else {
      const s = new RawDeltaStream(client);
      streams.push(s);
      work.push(
        (async () => {
          let prev = names(r.services, r.round * 1000 + i);
          s.send({ node, typeUrl: EDS, resourceNamesSubscribe: prev });
          let resp = await s.next(20_000);
          responses++;
          for (let k = 1; k <= r.churn; k++) {
            const next = names(r.services, r.round * 1000 + i * 31 + k);
            s.ack(resp, next, prev);
            prev = next;
            resp = await s.next(20_000);
            responses++;
          }
          s.ack(resp);
        })(),
      );
    }
  }
  for (const result of await Promise.allSettled(work)) {
    if (result.status === "rejected") refused++;
  }
  for (const [i, s] of streams.entries()) {
    if (i % 2 === 0) s.close();
    else s.call.cancel();
  }
  await Promise.all(streams.map((s) => s.ended(5000).catch(() => undefined)));
  for (const c of clients) c.close();
  return { responses, refused };
}

let stuck: { sotw: StuckStreams; delta: StuckStreams; healthy: AdsClient } | undefined;

// Opens the stuck streams and a healthy proxyless client that subscribes to
// every cluster and its endpoints, ACKing as it goes.
async function openStuck(p: SoakStuck): Promise<void> {
  const node = { cluster: p.cluster, userAgentName: "gRPC Node" };
  const delta = Math.floor(p.count / 5);
  const typeUrls = [TypeUrl.Cluster, TypeUrl.Listener, EDS];
  const names = { [EDS]: Array.from({ length: p.services }, (_, i) => `outbound|8080||svc-${i}`) };
  const common = { port: p.port, typeUrls, names, cluster: p.cluster };
  stuck = {
    sotw: openStuckStreams({ ...common, count: p.count - delta }),
    delta: openStuckStreams({ ...common, count: delta, protocol: "delta" }),
    healthy: createAdsClient({ target: p.target, node: { id: p.healthyNodeId, ...node } }),
  };
  const healthy = stuck.healthy;
  healthy.on("update", (u) => {
    if (u.typeUrl === TypeUrl.Cluster) healthy.subscribe(TypeUrl.ClusterLoadAssignment, u.upserted);
  });
  healthy.subscribe(TypeUrl.Cluster);
  await healthy.synced(20_000);
}

async function closeStuck(): Promise<number> {
  if (!stuck) return 0;
  const ended = stuck.sotw.ended() + stuck.delta.ended();
  stuck.healthy.close();
  stuck.sotw.close();
  stuck.delta.close();
  stuck = undefined;
  return ended;
}

if (process.send) {
  const limit = setTimeout(() => process.exit(3), HARD_LIMIT_MS);
  const send = (e: SoakEvent) => process.send?.(e);
  const failed = (err: unknown) => send({ ev: "error", message: String(err) });
  process.on("message", (m: SoakCommand) => {
    switch (m.cmd) {
      case "stop":
        clearTimeout(limit);
        setTimeout(() => process.exit(0), 20);
        return;
      case "round":
        runRound(m.round).then((r) => send({ ev: "roundDone", ...r }), failed);
        return;
      case "stuck":
        openStuck(m.stuck).then(() => send({ ev: "stuckReady" }), failed);
        return;
      case "unstuck":
        closeStuck().then((ended) => send({ ev: "stuckDone", ended }), failed);
        return;
    }
  });
  process.on("disconnect", () => process.exit(0));
}
