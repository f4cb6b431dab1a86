// The ADS client's stream machinery: one stream at a time to one of the
// targets, subscriptions replayed on each new stream (Delta with the versions
// held), responses checked, stored and ACKed or NACKed.
import { type MessageInitShape, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { type Logger, findResourceType, silentLogger, assertJsonMetadata } from "@xdskit/xds-types";
import type { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import {
  DeltaDiscoveryRequestSchema,
  DeltaDiscoveryResponseSchema,
  DiscoveryRequestSchema,
  DiscoveryResponseSchema,
} from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";
import { EventEmitter } from "eventemitter3";
import { Backoff } from "./backoff.js";
import { channelCredentials } from "./credentials.js";
import type { AdsClient, AdsClientEvents, AdsClientOptions, ReceivedUpdate } from "./client-api.js";
import { type ReceivedResource, ResourceStore, type StoredResource, decodeReceived } from "./store.js";

export type { AdsClient, AdsClientEvents, AdsClientOptions, ReceivedUpdate } from "./client-api.js";

const SOTW_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const DELTA_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

/** The parts of a Delta request the client varies. */
interface DeltaFields {
  resourceNamesSubscribe?: string[];
  resourceNamesUnsubscribe?: string[];
  initialResourceVersions?: Record<string, string>;
  responseNonce?: string;
  errorDetail?: { code: number; message: string };
}

/** What a client asked for of one type. */
interface Subscription {
  wildcard: boolean;
  names: Set<string>;
  /** SotW: the last accepted version and the last nonce received. */
  version: string;
  nonce: string;
  /** A response arrived on the current stream. */
  synced: boolean;
}

class AdsClientImpl extends EventEmitter<AdsClientEvents> implements AdsClient {
  readonly store = new ResourceStore();
  readonly #options: AdsClientOptions;
  readonly #delta: boolean;
  readonly #subs = new Map<string, Subscription>();
  readonly #backoff: Backoff;
  readonly #log: Logger;
  readonly #targets: readonly string[];
  readonly #clients: (grpc.Client | undefined)[];
  /** Which target the current (or next) stream goes to. */
  #current = 0;
  /** Targets failed in a row without a response; a full round backs off. */
  #failedInRound = 0;
  #call: grpc.ClientDuplexStream<Uint8Array, Buffer> | undefined;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;
  #nodeSent = false;
  #attempt = 0;
  /** Why the stream ended for good (no reconnect). */
  #fatal: string | undefined;

  constructor(options: AdsClientOptions) {
    super();
    assertJsonMetadata(options.node?.metadata);
    this.#options = options;
    this.#delta = options.protocol === "delta";
    this.#backoff = new Backoff(options.backoff);
    this.#log = options.logger ?? silentLogger;
    this.#targets = typeof options.target === "string" ? [options.target] : [...options.target];
    if (this.#targets.length === 0 || this.#targets.some((t) => typeof t !== "string" || t.length === 0))
      throw new Error(
        `adsc: target must be host:port or a non-empty list of them, got ${JSON.stringify(options.target)}`,
      );
    this.#clients = this.#targets.map(() => undefined);
    this.#open();
  }

  subscribe(typeUrl: string, names: readonly string[] = []): void {
    let sub = this.#subs.get(typeUrl);
    const fresh = !sub;
    if (!sub) {
      sub = { wildcard: false, names: new Set(), version: "", nonce: "", synced: false };
      this.#subs.set(typeUrl, sub);
    }
    const added: string[] = [];
    if (names.length === 0 || names.includes("*")) {
      if (!sub.wildcard) added.push("*");
      sub.wildcard = true;
    }
    for (const n of names) {
      if (n !== "*" && !sub.names.has(n)) {
        sub.names.add(n);
        added.push(n);
      }
    }
    if (!fresh && added.length === 0) return;
    sub.synced = false;
    if (this.#delta) {
      this.#sendDelta(typeUrl, { resourceNamesSubscribe: added, ...(fresh ? this.#initial(typeUrl) : {}) });
    } else {
      this.#sendSotw(typeUrl, sub);
    }
  }

  unsubscribe(typeUrl: string, names: readonly string[]): void {
    const sub = this.#subs.get(typeUrl);
    if (!sub) return;
    const dropped: string[] = [];
    for (const n of names) {
      if (n === "*" ? sub.wildcard : sub.names.has(n)) dropped.push(n);
      if (n === "*") sub.wildcard = false;
      else sub.names.delete(n);
    }
    if (dropped.length === 0) return;
    if (!sub.wildcard) {
      // What the client no longer subscribes to leaves its store.
      const keep = sub.names;
      this.store.remove(
        typeUrl,
        [...this.store.all(typeUrl).keys()].filter((n) => !keep.has(n)),
      );
    }
    if (this.#delta) this.#sendDelta(typeUrl, { resourceNamesUnsubscribe: dropped });
    else this.#sendSotw(typeUrl, sub);
  }

  async synced(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const waiting = [...this.#subs].filter(([, s]) => !s.synced).map(([t]) => t);
      if (waiting.length === 0) return;
      this.assertHealthy();
      if (Date.now() >= deadline) {
        throw new Error(`no response within ${timeoutMs} ms for ${waiting.join(", ")} from ${this.target}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  assertHealthy(): void {
    if (this.#fatal) throw new Error(this.#fatal);
    if (this.#closed) throw new Error("the client was closed");
  }

  close(): void {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#call?.cancel();
    this.#call = undefined;
    for (const c of this.#clients) c?.close();
  }

  /** The target the current (or next) stream goes to. */
  get target(): string {
    return this.#targets[this.#current] as string;
  }

  #clientFor(i: number): grpc.Client {
    let c = this.#clients[i];
    if (!c) {
      c = new grpc.Client(this.#targets[i] as string, channelCredentials(this.#options.security), {
        "grpc.max_receive_message_length": -1,
        ...this.#options.channelOptions,
      });
      this.#clients[i] = c;
    }
    return c;
  }

  // After a failed stream: the next replica at once (jittered, so a fleet
  // does not move in lockstep), and the backoff once a round has failed.
  #nextDelay(): number {
    if (this.#targets.length > 1) {
      this.#current = (this.#current + 1) % this.#targets.length;
      this.#failedInRound++;
      if (this.#failedInRound < this.#targets.length) return 20 + Math.random() * 80;
      this.#failedInRound = 0;
    }
    return this.#backoff.next();
  }

  #initial(typeUrl: string): { initialResourceVersions?: Record<string, string> } {
    const versions = this.store.versions(typeUrl);
    return Object.keys(versions).length > 0 ? { initialResourceVersions: versions } : {};
  }

  #node(): { node?: MessageInitShape<typeof NodeSchema> } {
    if (this.#nodeSent) return {};
    this.#nodeSent = true;
    return { node: this.#options.node };
  }

  #sotwNames(typeUrl: string, sub: Subscription): string[] {
    const names = [...sub.names];
    // Full-state types take the legacy empty list as wildcard; others need `*`.
    if (sub.wildcard && (names.length > 0 || !findResourceType(typeUrl)?.fullState)) names.push("*");
    return names;
  }

  #sendSotw(typeUrl: string, sub: Subscription, extra: { errorDetail?: { code: number; message: string } } = {}): void {
    if (!this.#call) return;
    const req = create(DiscoveryRequestSchema, {
      typeUrl,
      versionInfo: sub.version,
      responseNonce: sub.nonce,
      resourceNames: this.#sotwNames(typeUrl, sub),
      ...this.#node(),
      ...extra,
    });
    this.#call.write(toBinary(DiscoveryRequestSchema, req));
  }

  #sendDelta(typeUrl: string, fields: DeltaFields): void {
    if (!this.#call) return;
    const req = create(DeltaDiscoveryRequestSchema, { typeUrl, ...this.#node(), ...fields });
    this.#call.write(toBinary(DeltaDiscoveryRequestSchema, req));
  }

  #open(): void {
    if (this.#closed) return;
    this.#attempt++;
    this.#nodeSent = false;
    const target = this.target;
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.#options.callMetadata ?? {})) metadata.set(k, v);
    const call = this.#clientFor(this.#current).makeBidiStreamRequest(
      this.#delta ? DELTA_PATH : SOTW_PATH,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
      metadata,
    );
    this.#call = call;
    let ended = false;
    const end = (code: number, details: string) => {
      if (ended) return;
      ended = true;
      if (this.#call === call) this.#call = undefined;
      for (const s of this.#subs.values()) s.synced = false;
      const retry = !this.#closed && this.#options.reconnect !== false ? this.#nextDelay() : undefined;
      this.#log.info("stream ended", { target, code, details, retryInMs: retry, next: this.target });
      this.emit("disconnected", { code, details, retryInMs: retry, target });
      if (retry !== undefined) this.#retry = setTimeout(() => this.#open(), retry);
      else if (!this.#closed) this.#fatal = `the stream to ${target} ended: ${details || `status ${code}`}`;
    };
    call.on("data", (buf: Buffer) => {
      this.#backoff.reset();
      this.#failedInRound = 0;
      try {
        if (this.#delta) this.#onDelta(buf);
        else this.#onSotw(buf);
      } catch (err) {
        this.#log.error("response handling failed", { error: String(err) });
      }
    });
    call.on("status", (s: grpc.StatusObject) => end(s.code, s.details));
    call.on("error", (err: grpc.ServiceError) => end(err.code ?? grpc.status.UNKNOWN, err.details ?? err.message));
    this.emit("connected", { attempt: this.#attempt, target });
    // Resubscribe everything (Delta: saying what is held, so only changes come back).
    for (const [typeUrl, sub] of this.#subs) {
      if (this.#delta) {
        const names = [...sub.names];
        if (sub.wildcard) names.push("*");
        this.#sendDelta(typeUrl, { resourceNamesSubscribe: names, ...this.#initial(typeUrl) });
      } else {
        sub.nonce = "";
        this.#sendSotw(typeUrl, sub);
      }
    }
  }

  /** Runs the validate hook; returns the NACK message, if any. */
  #check(update: ReceivedUpdate): string | undefined {
    try {
      return this.#options.validate?.(update) ?? undefined;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }

  #decodeAll(typeUrl: string, received: readonly ReceivedResource[]): StoredResource[] | string {
    try {
      return received.map((r) => decodeReceived(typeUrl, r));
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }

  #onSotw(buf: Buffer): void {
    const r = fromBinary(DiscoveryResponseSchema, buf);
    const sub = this.#subs.get(r.typeUrl);
    if (!sub) return;
    sub.nonce = r.nonce;
    sub.synced = true;
    const decoded = this.#decodeAll(
      r.typeUrl,
      r.resources.map((a) => ({ name: "", version: r.versionInfo, bytes: a.value })),
    );
    const fullState = findResourceType(r.typeUrl)?.fullState ?? false;
    const resources = typeof decoded === "string" ? [] : decoded;
    const present = new Set(resources.map((x) => x.name));
    const removed = fullState ? [...this.store.all(r.typeUrl).keys()].filter((n) => !present.has(n)) : [];
    const update: ReceivedUpdate = { typeUrl: r.typeUrl, version: r.versionInfo, nonce: r.nonce, resources, removed };
    const problem = typeof decoded === "string" ? decoded : this.#check(update);
    if (problem !== undefined) {
      this.emit("nack", { typeUrl: r.typeUrl, version: r.versionInfo, nonce: r.nonce, message: problem });
      this.#sendSotw(r.typeUrl, sub, { errorDetail: { code: grpc.status.INVALID_ARGUMENT, message: problem } });
      return;
    }
    this.store.remove(r.typeUrl, removed);
    this.store.upsert(r.typeUrl, resources);
    sub.version = r.versionInfo;
    this.#sendSotw(r.typeUrl, sub);
    this.emit("update", { ...update, upserted: [...present] });
  }

  #onDelta(buf: Buffer): void {
    const r = fromBinary(DeltaDiscoveryResponseSchema, buf);
    const sub = this.#subs.get(r.typeUrl);
    if (!sub) return;
    sub.synced = true;
    const withBody = r.resources.filter((x) => x.resource);
    const decoded = this.#decodeAll(
      r.typeUrl,
      withBody.map((x) => ({
        name: x.name,
        version: x.version,
        bytes: x.resource?.value ?? new Uint8Array(),
        ...(x.ttl ? { ttlMs: Number(x.ttl.seconds) * 1000 + x.ttl.nanos / 1e6 } : {}),
      })),
    );
    const resources = typeof decoded === "string" ? [] : decoded;
    const update: ReceivedUpdate = {
      typeUrl: r.typeUrl,
      version: r.systemVersionInfo,
      nonce: r.nonce,
      resources,
      removed: r.removedResources,
    };
    const problem = typeof decoded === "string" ? decoded : this.#check(update);
    if (problem !== undefined) {
      this.emit("nack", { typeUrl: r.typeUrl, version: r.systemVersionInfo, nonce: r.nonce, message: problem });
      this.#sendDelta(r.typeUrl, {
        responseNonce: r.nonce,
        errorDetail: { code: grpc.status.INVALID_ARGUMENT, message: problem },
      });
      return;
    }
    const removed = this.store.remove(r.typeUrl, r.removedResources);
    this.store.upsert(r.typeUrl, resources);
    this.#sendDelta(r.typeUrl, { responseNonce: r.nonce });
    if (resources.length > 0 || removed.length > 0 || r.removedResources.length > 0) {
      this.emit("update", { ...update, upserted: resources.map((x) => x.name) });
    }
  }
}

/**
 * Connects to a control plane over ADS (SotW or Delta) and keeps a decoded
 * store of what it is sent. Call `subscribe` for each type; responses are
 * ACKed, or NACKed when `validate` objects, and the stream reconnects with
 * jittered backoff, resubscribing what it had.
 */
export function createAdsClient(options: AdsClientOptions): AdsClient {
  if (!options?.target) throw new Error("createAdsClient needs a target (host:port of the control plane)");
  if (!options.node?.id) throw new Error("createAdsClient needs a node with an id");
  return new AdsClientImpl(options);
}
