// The load client: a separate process (forked by the bench) that opens many
// ADS streams and ACKs everything, so the server under test does not share a
// CPU-bound event loop with its clients. Controlled over IPC; exits on its own
// after a hard time limit.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  DiscoveryRequestSchema,
  DiscoveryResponseSchema,
} from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";

/** What the bench asks the load client to do. */
export interface LoadPlan {
  readonly target: string;
  readonly streams: number;
  readonly streamsPerChannel: number;
  /** type URL → names to subscribe to ([] = wildcard). */
  readonly subscriptions: Readonly<Record<string, readonly string[]>>;
}

/** Messages from the load client. */
export type LoadEvent =
  | { ev: "subscribed"; streams: number }
  | { ev: "done"; streams: number; responses: number; bytes: number }
  | { ev: "error"; message: string };

const PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const HARD_LIMIT_MS = 180_000;

function send(e: LoadEvent): void {
  process.send?.(e);
}

function run(plan: LoadPlan): () => void {
  const types = Object.keys(plan.subscriptions);
  const channels: grpc.Client[] = [];
  const calls: grpc.ClientDuplexStream<Uint8Array, Buffer>[] = [];
  let complete = 0;
  let responses = 0;
  let bytes = 0;
  for (let i = 0; i < plan.streams; i++) {
    if (i % plan.streamsPerChannel === 0) {
      // A local subchannel pool gives each client its own HTTP/2 connection.
      channels.push(
        new grpc.Client(plan.target, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }),
      );
    }
    const ch = channels[channels.length - 1] as grpc.Client;
    const call = ch.makeBidiStreamRequest(
      PATH,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
    );
    calls.push(call);
    const got = new Set<string>();
    call.on("data", (buf: Buffer) => {
      responses++;
      bytes += buf.length;
      const r = fromBinary(DiscoveryResponseSchema, buf);
      call.write(
        toBinary(
          DiscoveryRequestSchema,
          create(DiscoveryRequestSchema, {
            typeUrl: r.typeUrl,
            versionInfo: r.versionInfo,
            responseNonce: r.nonce,
            resourceNames: [...(plan.subscriptions[r.typeUrl] ?? [])],
          }),
        ),
      );
      if (!got.has(r.typeUrl)) {
        got.add(r.typeUrl);
        if (got.size === types.length && ++complete === plan.streams)
          send({ ev: "done", streams: complete, responses, bytes });
      }
    });
    call.on("error", (err: grpc.ServiceError) => {
      if (err.code !== grpc.status.CANCELLED) send({ ev: "error", message: `stream ${i}: ${err.message}` });
    });
    types.forEach((typeUrl, k) => {
      call.write(
        toBinary(
          DiscoveryRequestSchema,
          create(DiscoveryRequestSchema, {
            typeUrl,
            resourceNames: [...(plan.subscriptions[typeUrl] ?? [])],
            ...(k === 0 ? { node: { id: `load-${process.pid}-${i}`, cluster: "bench", locality: { zone: "a" } } } : {}),
          }),
        ),
      );
    });
  }
  send({ ev: "subscribed", streams: plan.streams });
  return () => {
    for (const c of calls) c.cancel();
    for (const ch of channels) ch.close();
  };
}

if (process.send) {
  let stop: (() => void) | undefined;
  const limit = setTimeout(() => process.exit(3), HARD_LIMIT_MS);
  process.on("message", (m: { cmd: "run"; plan: LoadPlan } | { cmd: "stop" }) => {
    if (m.cmd === "run") stop = run(m.plan);
    else {
      stop?.();
      clearTimeout(limit);
      setTimeout(() => process.exit(0), 50);
    }
  });
  process.on("disconnect", () => process.exit(0));
}
