// The load client: a separate process (forked by the bench) that opens many
// ADS streams and ACKs everything, so the server under test does not share a
// CPU-bound event loop with its clients. Controlled over IPC; exits on its own
// after a hard time limit.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  DeltaDiscoveryRequestSchema,
  DeltaDiscoveryResponseSchema,
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
  /** State of the World (default) or incremental. */
  readonly protocol?: "sotw" | "delta";
}

/** Messages from the load client. */
export type LoadEvent =
  | { ev: "subscribed"; streams: number }
  | { ev: "done"; streams: number; responses: number; bytes: number }
  /** After a `mark`: when (epoch ms) each stream got its next response, and the bytes of those responses. */
  | { ev: "marked"; arrivals: number[]; bytes: number }
  | { ev: "markSet" }
  | { ev: "error"; message: string };

const SOTW_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const DELTA_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

/** Encodes the first request of a type and decodes responses into what an ACK needs. */
interface Codec {
  readonly path: string;
  subscribe(typeUrl: string, names: readonly string[], node?: object): Uint8Array;
  /** Decodes a response and builds its ACK; `namesOf` gives the names a SotW ACK repeats. */
  answer(buf: Buffer, namesOf: (typeUrl: string) => readonly string[]): { typeUrl: string; ack: Uint8Array };
}

const sotwCodec: Codec = {
  path: SOTW_PATH,
  subscribe: (typeUrl, names, node) =>
    toBinary(
      DiscoveryRequestSchema,
      create(DiscoveryRequestSchema, { typeUrl, resourceNames: [...names], ...(node ? { node } : {}) }),
    ),
  answer: (buf, namesOf) => {
    const r = fromBinary(DiscoveryResponseSchema, buf);
    const ack = create(DiscoveryRequestSchema, {
      typeUrl: r.typeUrl,
      versionInfo: r.versionInfo,
      responseNonce: r.nonce,
      resourceNames: [...namesOf(r.typeUrl)],
    });
    return { typeUrl: r.typeUrl, ack: toBinary(DiscoveryRequestSchema, ack) };
  },
};

const deltaCodec: Codec = {
  path: DELTA_PATH,
  subscribe: (typeUrl, names, node) =>
    toBinary(
      DeltaDiscoveryRequestSchema,
      create(DeltaDiscoveryRequestSchema, {
        typeUrl,
        resourceNamesSubscribe: names.length === 0 ? ["*"] : [...names],
        ...(node ? { node } : {}),
      }),
    ),
  answer: (buf) => {
    const r = fromBinary(DeltaDiscoveryResponseSchema, buf);
    const ack = create(DeltaDiscoveryRequestSchema, { typeUrl: r.typeUrl, responseNonce: r.nonce });
    return { typeUrl: r.typeUrl, ack: toBinary(DeltaDiscoveryRequestSchema, ack) };
  },
};
const HARD_LIMIT_MS = 180_000;

function send(e: LoadEvent): void {
  process.send?.(e);
}

/** A running plan: `mark` starts timing the next response of every stream; `stop` ends it. */
interface Running {
  mark(): void;
  stop(): void;
}

function run(plan: LoadPlan): Running {
  const codec = plan.protocol === "delta" ? deltaCodec : sotwCodec;
  const types = Object.keys(plan.subscriptions);
  const channels: grpc.Client[] = [];
  const calls: grpc.ClientDuplexStream<Uint8Array, Buffer>[] = [];
  let complete = 0;
  let responses = 0;
  let bytes = 0;
  // Timing after a mark: arrival per stream (NaN until it arrives).
  let arrivals: number[] | undefined;
  let arrived = 0;
  let markedBytes = 0;
  for (let i = 0; i < plan.streams; i++) {
    if (i % plan.streamsPerChannel === 0) {
      // A local subchannel pool gives each client its own HTTP/2 connection.
      channels.push(
        new grpc.Client(plan.target, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }),
      );
    }
    const ch = channels[channels.length - 1] as grpc.Client;
    const call = ch.makeBidiStreamRequest(
      codec.path,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
    );
    calls.push(call);
    const got = new Set<string>();
    call.on("data", (buf: Buffer) => {
      responses++;
      bytes += buf.length;
      if (arrivals && Number.isNaN(arrivals[i])) {
        arrivals[i] = performance.timeOrigin + performance.now();
        markedBytes += buf.length;
        if (++arrived === plan.streams) {
          send({ ev: "marked", arrivals, bytes: markedBytes });
          arrivals = undefined;
        }
      }
      const { typeUrl, ack } = codec.answer(buf, (t) => plan.subscriptions[t] ?? []);
      call.write(ack);
      if (!got.has(typeUrl)) {
        got.add(typeUrl);
        if (got.size === types.length && ++complete === plan.streams)
          send({ ev: "done", streams: complete, responses, bytes });
      }
    });
    call.on("error", (err: grpc.ServiceError) => {
      if (err.code !== grpc.status.CANCELLED) send({ ev: "error", message: `stream ${i}: ${err.message}` });
    });
    types.forEach((typeUrl, k) => {
      const node = k === 0 ? { id: `load-${process.pid}-${i}`, cluster: "bench", locality: { zone: "a" } } : undefined;
      call.write(codec.subscribe(typeUrl, plan.subscriptions[typeUrl] ?? [], node));
    });
  }
  send({ ev: "subscribed", streams: plan.streams });
  return {
    mark() {
      arrivals = new Array<number>(plan.streams).fill(Number.NaN);
      arrived = 0;
      markedBytes = 0;
    },
    stop() {
      for (const c of calls) c.cancel();
      for (const ch of channels) ch.close();
    },
  };
}

if (process.send) {
  let running: Running | undefined;
  const limit = setTimeout(() => process.exit(3), HARD_LIMIT_MS);
  process.on("message", (m: { cmd: "run"; plan: LoadPlan } | { cmd: "mark" } | { cmd: "stop" }) => {
    if (m.cmd === "run") running = run(m.plan);
    else if (m.cmd === "mark") {
      running?.mark();
      process.send?.({ ev: "markSet" });
    } else {
      running?.stop();
      clearTimeout(limit);
      setTimeout(() => process.exit(0), 50);
    }
  });
  process.on("disconnect", () => process.exit(0));
}
