// A client that subscribes and then never reads: a plain HTTP/2 session with
// a tiny stream window whose response streams are never consumed, so the
// server's writes stay in flight for as long as the client lives. It stands
// for a hung process, a client stopped in a debugger, or a half-open TCP
// connection after a partition.
import { create, toBinary } from "@bufbuild/protobuf";
import http2 from "node:http2";
import {
  DeltaDiscoveryRequestSchema,
  DiscoveryRequestSchema,
} from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";

const SOTW_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const DELTA_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

/** Options of {@link openStuckStreams}. */
export interface StuckStreamOptions {
  /** Server port on 127.0.0.1. */
  readonly port: number;
  /** How many streams (one HTTP/2 session each, like separate clients). */
  readonly count: number;
  /** SotW or Delta ADS. Default SotW. */
  readonly protocol?: "sotw" | "delta";
  /** Type URLs each stream subscribes to (wildcard, unless `names` lists names for the type). */
  readonly typeUrls: readonly string[];
  /** Names to subscribe to, by type URL. */
  readonly names?: Readonly<Record<string, readonly string[]>>;
  /** Node id of stream i. Default `stuck-<i>`. */
  readonly nodeId?: (i: number) => string;
  /** Node cluster. Default `stuck`. */
  readonly cluster?: string;
  /** Node metadata (a JSON object). */
  readonly metadata?: Record<string, unknown>;
  /** The stream flow-control window the client advertises, in bytes. Default 1,024. */
  readonly windowBytes?: number;
}

/** Streams that subscribed and never read; `ended` counts those the server closed. */
export interface StuckStreams {
  /** Streams the server has closed (RST_STREAM or trailers) or whose session went away. */
  ended(): number;
  /** Closes every session. */
  close(): void;
}

function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + bytes.length);
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

/**
 * Opens `count` ADS streams that send their subscriptions and then never read
 * a byte of what the server sends back.
 */
export function openStuckStreams(options: StuckStreamOptions): StuckStreams {
  const sessions: http2.ClientHttp2Session[] = [];
  let ended = 0;
  const delta = options.protocol === "delta";
  for (let i = 0; i < options.count; i++) {
    const session = http2.connect(`http://127.0.0.1:${options.port}`, {
      settings: { initialWindowSize: options.windowBytes ?? 1024 },
    });
    session.on("error", () => {});
    const stream = session.request({
      ":method": "POST",
      ":path": delta ? DELTA_PATH : SOTW_PATH,
      "content-type": "application/grpc",
      te: "trailers",
    });
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      ended++;
    };
    stream.on("error", end);
    stream.on("close", end);
    // Never reading: the stream stays paused, so its window is never opened again.
    stream.pause();
    const node = {
      id: options.nodeId?.(i) ?? `stuck-${i}`,
      cluster: options.cluster ?? "stuck",
      locality: { region: "local", zone: "a" },
      ...(options.metadata ? { metadata: options.metadata as never } : {}),
    };
    options.typeUrls.forEach((typeUrl, k) => {
      const first = k === 0 ? { node } : {};
      const names = [...(options.names?.[typeUrl] ?? [])];
      const bytes = delta
        ? toBinary(
            DeltaDiscoveryRequestSchema,
            create(DeltaDiscoveryRequestSchema, { ...first, typeUrl, resourceNamesSubscribe: names }),
          )
        : toBinary(DiscoveryRequestSchema, create(DiscoveryRequestSchema, { ...first, typeUrl, resourceNames: names }));
      stream.write(frame(bytes));
    });
    sessions.push(session);
  }
  return {
    ended: () => ended,
    close: () => {
      for (const s of sessions) s.destroy();
    },
  };
}
