import fs from "node:fs";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  DeltaDiscoveryRequestSchema,
  DeltaDiscoveryResponseSchema,
  DiscoveryRequestSchema,
} from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";
import { scanResponse } from "./load-scan.js";

/** What a load run does: how many streams, over how many channels, subscribing to what. */
export interface LoadPlan {
  readonly target: string;
  readonly streams: number;
  readonly streamsPerChannel: number;
  /** type URL → names to subscribe to ([] = wildcard). */
  readonly subscriptions: Readonly<Record<string, readonly string[]>>;
  /** State of the World (default) or incremental. */
  readonly protocol?: "sotw" | "delta";
  /** Node ids are `<nodePrefix>-<pid>-<n>`. Default "load". */
  readonly nodePrefix?: string;
  /** The node of each stream instead: ids by stream index (e.g. Istio-style sidecar ids), cluster, user agent. */
  readonly node?: { readonly ids?: readonly string[]; readonly cluster?: string; readonly userAgentName?: string };
  /** Channel credentials (not sent over IPC; see `tlsFiles`). Default insecure. */
  readonly credentials?: grpc.ChannelCredentials;
  /** TLS from PEM files (CA, and a client certificate and key for mTLS): what a forked load client can be told. */
  readonly tlsFiles?: { readonly ca: string; readonly cert?: string; readonly key?: string };
  /** Remember what each stream holds, so `reconnect()` can resume with it. Default false. */
  readonly trackHeld?: boolean;
  /**
   * Opens streams at this rate (in batches every 50 ms) instead of all at
   * once, as a fleet's pods come up; a burst of thousands of connections can
   * overflow the server's accept queue. Default: all at once.
   */
  readonly openPerSecond?: number;
  /**
   * Each connection's HTTP/2 receive window, in bytes. Default 16 MiB: the
   * clients simulated are Envoys (256 MiB by default) and gRPC clients that
   * grow theirs; grpc-js's own 64 KiB made a connection carrying a hundred
   * streams wait on its window updates, timing the generator, not the server.
   */
  readonly flowControlWindow?: number;
  /**
   * A stream the server ends or drops (a refusal under load, a lost
   * connection) is opened again after this many ms, plus up to as much again
   * of jitter, as Envoy retries its ADS stream; it then asks for everything
   * anew. Default: not reopened, and the end is reported as an `error`.
   */
  readonly reopenAfterMs?: number;
}

/** What a load run reports. */
export type LoadEvent =
  | { ev: "subscribed"; streams: number }
  /** After `reconnect()`: every stream was opened again and sent what it holds. */
  | { ev: "reconnected"; streams: number }
  /** Every stream has a response with resources for every subscribed type; `fullConfigMs` is, per stream, the time from its start. */
  | {
      ev: "done";
      streams: number;
      responses: number;
      bytes: number;
      fullConfigMs: number[];
      /** Streams opened again after the server ended or dropped them (see `reopenAfterMs`). */
      reopened?: number;
    }
  /** After a `mark`: when (epoch ms) each stream got its next response, and the bytes of those responses. */
  | { ev: "marked"; arrivals: number[]; bytes: number }
  | { ev: "markSet" }
  /** After `replay()`: every stream has handed its repeated ACKs to its connection. */
  | { ev: "replayed"; acks: number; bytes: number }
  | { ev: "error"; message: string };

const DEFAULT_FLOW_CONTROL_WINDOW = 16 << 20;

const SOTW_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const DELTA_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

/** What one stream holds of a type: the SotW version, or the Delta per-resource versions. */
interface Held {
  version: string;
  readonly resources: Map<string, string>;
}

/** Encodes the first request of a type and decodes responses into what an ACK needs. */
interface Codec {
  readonly path: string;
  /** The first request of a type; with `held`, it says what the client holds (a reconnect). */
  subscribe(typeUrl: string, names: readonly string[], node: object | undefined, held: Held | undefined): Uint8Array;
  /**
   * Decodes a response, records what it brings into `held` (when tracked),
   * and builds its ACK; `namesOf` gives the names a SotW ACK repeats.
   */
  answer(
    buf: Buffer,
    namesOf: (typeUrl: string) => readonly string[],
    heldOf: ((typeUrl: string) => Held) | undefined,
  ): { typeUrl: string; resources: number; ack: Uint8Array };
}

const sotwCodec: Codec = {
  path: SOTW_PATH,
  subscribe: (typeUrl, names, node, held) =>
    toBinary(
      DiscoveryRequestSchema,
      create(DiscoveryRequestSchema, {
        typeUrl,
        resourceNames: [...names],
        ...(node ? { node } : {}),
        ...(held ? { versionInfo: held.version } : {}),
      }),
    ),
  answer: (buf, namesOf, heldOf) => {
    const r = scanResponse(buf);
    if (heldOf) heldOf(r.typeUrl).version = r.version;
    const ack = sotwAck(r.typeUrl, r.version, r.nonce, namesOf(r.typeUrl));
    return { typeUrl: r.typeUrl, resources: r.resources, ack };
  },
};

// The encoded `resource_names` of each name list, kept while the list is.
const encodedNames = new WeakMap<readonly string[], Uint8Array>();

/**
 * A SotW ACK, byte for byte what `toBinary` writes (fields in number order:
 * version 1, names 3, type 4, nonce 5), with the names encoded once per
 * list: thousands of simulated clients repeating a 1,000-name subscription
 * must not make the load generator, rather than the server, the bottleneck.
 */
export function sotwAck(typeUrl: string, versionInfo: string, nonce: string, names: readonly string[]): Uint8Array {
  let namesBytes = encodedNames.get(names);
  if (!namesBytes) {
    namesBytes = toBinary(DiscoveryRequestSchema, create(DiscoveryRequestSchema, { resourceNames: [...names] }));
    encodedNames.set(names, namesBytes);
  }
  const head = toBinary(DiscoveryRequestSchema, create(DiscoveryRequestSchema, { versionInfo }));
  const tail = toBinary(DiscoveryRequestSchema, create(DiscoveryRequestSchema, { typeUrl, responseNonce: nonce }));
  return Buffer.concat([head, namesBytes, tail]);
}

const deltaCodec: Codec = {
  path: DELTA_PATH,
  subscribe: (typeUrl, names, node, held) =>
    toBinary(
      DeltaDiscoveryRequestSchema,
      create(DeltaDiscoveryRequestSchema, {
        typeUrl,
        resourceNamesSubscribe: names.length === 0 ? ["*"] : [...names],
        ...(node ? { node } : {}),
        ...(held ? { initialResourceVersions: Object.fromEntries(held.resources) } : {}),
      }),
    ),
  answer: (buf, _namesOf, heldOf) => {
    let r: { typeUrl: string; nonce: string; resources: number };
    if (heldOf) {
      // Tracking what is held needs every resource's name and version: decoded in full.
      const full = fromBinary(DeltaDiscoveryResponseSchema, buf);
      const held = heldOf(full.typeUrl);
      for (const res of full.resources) held.resources.set(res.name, res.version);
      for (const name of full.removedResources) held.resources.delete(name);
      r = { typeUrl: full.typeUrl, nonce: full.nonce, resources: full.resources.length };
    } else {
      r = scanResponse(buf);
    }
    const ack = create(DeltaDiscoveryRequestSchema, { typeUrl: r.typeUrl, responseNonce: r.nonce });
    return { typeUrl: r.typeUrl, resources: r.resources, ack: toBinary(DeltaDiscoveryRequestSchema, ack) };
  },
};

function credentialsOf(plan: LoadPlan): grpc.ChannelCredentials {
  const f = plan.tlsFiles;
  if (!f) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(
    fs.readFileSync(f.ca),
    f.key ? fs.readFileSync(f.key) : null,
    f.cert ? fs.readFileSync(f.cert) : null,
  );
}

/** A running load: `mark` starts timing the next response of every stream; `stop` ends it. */
export interface RunningLoad {
  /** Starts timing the next response of every stream. */
  mark(): void;
  /**
   * Every stream writes the last ACK it sent for `typeUrl` `times` more
   * times (a SotW stream's duplicate ACKs, as an ACK-cost probe sends them);
   * a stream that has none writes one with its names, no version and no nonce.
   */
  replay(typeUrl: string, times: number): void;
  /**
   * Drops every stream and channel and opens them again, each saying what it
   * holds (SotW `version_info`, Delta `initial_resource_versions`), as a
   * fleet does after a control-plane restart. Needs `plan.trackHeld`.
   */
  reconnect(): void;
  /** Closes every stream and channel. */
  stop(): void;
  /** Responses and bytes received so far, streams with a full config, and streams reopened. */
  progress(): { responses: number; bytes: number; complete: number; reopened: number };
}

/**
 * Opens `plan.streams` ADS streams (SotW or Delta) from this process, each
 * with its own node id, subscribes them and ACKs everything; reports through
 * `send`. The basis of `xdskit-adsc load` and of the benchmarks' load client.
 */
export function runLoad(plan: LoadPlan, send: (e: LoadEvent) => void): RunningLoad {
  if (!(plan.streams > 0) || !(plan.streamsPerChannel > 0)) {
    throw new Error(
      `a load needs streams > 0 and streamsPerChannel > 0; got ${plan.streams} and ${plan.streamsPerChannel}`,
    );
  }
  const codec = plan.protocol === "delta" ? deltaCodec : sotwCodec;
  const types = Object.keys(plan.subscriptions);
  let channels: grpc.Client[] = [];
  let calls: grpc.ClientDuplexStream<Uint8Array, Buffer>[] = [];
  // What each stream holds, by type (only with trackHeld: it costs memory).
  const held: Map<string, Held>[] | undefined = plan.trackHeld
    ? Array.from({ length: plan.streams }, () => new Map())
    : undefined;
  let complete = 0;
  let responses = 0;
  let bytes = 0;
  // Timing after a mark: arrival per stream (NaN until it arrives).
  let arrivals: number[] | undefined;
  let arrived = 0;
  let markedBytes = 0;
  let started = performance.now();
  // Streams still to open at the plan's rate, and which opening they belong to.
  let pending: NodeJS.Timeout | undefined;
  // The last ACK each stream sent, by type (what `replay` repeats).
  const lastAck: Map<string, Uint8Array>[] = Array.from({ length: plan.streams }, () => new Map());
  let opened = 0;
  // Streams opened again after the server ended them, and their pending timers.
  let reopened = 0;
  const reopening = new Set<NodeJS.Timeout>();
  let stopped = false;
  let fullConfigMs = new Array<number>(plan.streams).fill(Number.NaN);

  const heldOf = (i: number) => {
    const mine = held?.[i];
    if (!mine) return undefined;
    return (typeUrl: string) => {
      let h = mine.get(typeUrl);
      if (!h) {
        h = { version: "", resources: new Map() };
        mine.set(typeUrl, h);
      }
      return h;
    };
  };

  const open = (resume: boolean) => {
    channels = [];
    calls = [];
    complete = 0;
    started = performance.now();
    fullConfigMs = new Array<number>(plan.streams).fill(Number.NaN);
    const generation = ++opened;
    // All at once, or a batch every 50 ms at the plan's rate (as pods come up).
    const batch = plan.openPerSecond ? Math.max(1, Math.round(plan.openPerSecond / 20)) : plan.streams;
    const openFrom = (first: number) => {
      if (generation !== opened) return;
      const last = Math.min(plan.streams, first + batch);
      for (let i = first; i < last; i++) openStream(i, resume);
      if (last < plan.streams) pending = setTimeout(() => openFrom(last), 50);
    };
    openFrom(0);
  };
  const openStream = (i: number, resume: boolean) => {
    if (i % plan.streamsPerChannel === 0) {
      // A local subchannel pool gives each client its own HTTP/2 connection.
      channels.push(
        new grpc.Client(plan.target, plan.credentials ?? credentialsOf(plan), {
          "grpc.use_local_subchannel_pool": 1,
          "grpc.max_receive_message_length": -1,
          "grpc-node.flow_control_window": plan.flowControlWindow ?? DEFAULT_FLOW_CONTROL_WINDOW,
        }),
      );
    }
    startCall(i, channels[channels.length - 1] as grpc.Client, resume, opened);
  };
  const startCall = (i: number, ch: grpc.Client, resume: boolean, generation: number) => {
    const call = ch.makeBidiStreamRequest(
      codec.path,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
    );
    calls[i] = call;
    const got = new Set<string>();
    const track = heldOf(i);
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
      const { typeUrl, resources, ack } = codec.answer(buf, (t) => plan.subscriptions[t] ?? [], track);
      lastAck[i]?.set(typeUrl, ack);
      call.write(ack);
      // A type counts once a response brings something: a server may answer
      // a subscription with nothing before it has config.
      if (resources > 0 && !got.has(typeUrl)) {
        got.add(typeUrl);
        if (got.size === types.length && Number.isNaN(fullConfigMs[i] as number)) {
          fullConfigMs[i] = performance.now() - started;
          if (++complete === plan.streams)
            send({ ev: "done", streams: complete, responses, bytes, fullConfigMs, reopened });
        }
      }
    });
    call.on("error", (err: grpc.ServiceError) => {
      if (err.code === grpc.status.CANCELLED || generation !== opened) return;
      if (plan.reopenAfterMs === undefined) {
        send({ ev: "error", message: `stream ${i}: ${err.message}` });
        return;
      }
      reopened++;
      const wait = plan.reopenAfterMs * (1 + Math.random());
      const timer = setTimeout(() => {
        reopening.delete(timer);
        if (generation === opened && !stopped) startCall(i, ch, false, generation);
      }, wait);
      reopening.add(timer);
    });
    types.forEach((typeUrl, k) => {
      const node =
        k === 0
          ? {
              id: plan.node?.ids?.[i] ?? `${plan.nodePrefix ?? "load"}-${process.pid}-${i}`,
              cluster: plan.node?.cluster ?? "load",
              locality: { zone: "a" },
              ...(plan.node?.userAgentName ? { userAgentName: plan.node.userAgentName } : {}),
            }
          : undefined;
      const h = resume ? held?.[i]?.get(typeUrl) : undefined;
      call.write(codec.subscribe(typeUrl, plan.subscriptions[typeUrl] ?? [], node, h));
    });
  };
  const close = () => {
    clearTimeout(pending);
    for (const t of reopening) clearTimeout(t);
    reopening.clear();
    for (const c of calls) c.cancel();
    for (const ch of channels) ch.close();
  };

  open(false);
  send({ ev: "subscribed", streams: plan.streams });
  return {
    replay(typeUrl, times) {
      let left = calls.length * times;
      let written = 0;
      const done = () => {
        if (--left === 0) send({ ev: "replayed", acks: calls.length * times, bytes: written });
      };
      if (left === 0) send({ ev: "replayed", acks: 0, bytes: 0 });
      calls.forEach((call, i) => {
        const ack =
          lastAck[i]?.get(typeUrl) ??
          (plan.protocol === "delta" ? undefined : sotwAck(typeUrl, "", "", plan.subscriptions[typeUrl] ?? []));
        if (!ack) throw new Error("replay() repeats SotW ACKs; a Delta load has none of that kind");
        for (let k = 0; k < times; k++) {
          written += ack.length;
          call.write(ack, done);
        }
      });
    },
    mark() {
      arrivals = new Array<number>(plan.streams).fill(Number.NaN);
      arrived = 0;
      markedBytes = 0;
    },
    reconnect() {
      if (!held) throw new Error("reconnect() needs a plan with trackHeld: true");
      close();
      open(true);
      send({ ev: "reconnected", streams: plan.streams });
    },
    stop() {
      stopped = true;
      close();
    },
    progress: () => ({ responses, bytes, complete, reopened }),
  };
}
