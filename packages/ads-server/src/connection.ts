import type { ServerDuplexStream } from "@grpc/grpc-js";
import {
  type EncodedResource,
  type SnapshotRegistry,
  type WatchResponse,
  assembleDeltaDiscoveryResponse,
  assembleDiscoveryResponse,
  deltaBody,
  heartbeatResource,
  sotwBody,
} from "@xdskit/snapshot";
import { TypeUrl } from "@xdskit/xds-types";
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import type { ConnectionRef } from "./events.js";
import type { PeerIdentity } from "./identity.js";
import type { ServerContext } from "./server-context.js";
import { type PendingResponse, TypeState } from "./type-state.js";

// Make before break: clusters and their endpoints before the listeners and
// routes that use them. Types not listed go after, in subscription order.
const PUSH_ORDER: readonly string[] = [
  TypeUrl.Cluster,
  TypeUrl.ClusterLoadAssignment,
  TypeUrl.Listener,
  TypeUrl.RouteConfiguration,
];

function orderOf(typeUrl: string): number {
  const i = PUSH_ORDER.indexOf(typeUrl);
  return i < 0 ? PUSH_ORDER.length : i;
}

let nextId = 0;

/** Which flavour of xDS a stream speaks. */
export type Protocol = "sotw" | "delta";

// How many sent nonces a Delta type remembers for ACK matching: clients may
// ACK each response, and answers cross new pushes on the wire.
const RECENT_NONCES = 16;

/**
 * One xDS stream: who is on the other end, what each of its types is
 * subscribed to and was sent, and a send queue that honours HTTP/2 flow
 * control with at most one pending response per type.
 */
export class Connection {
  readonly id: string;
  readonly connectedAt = new Date();
  readonly types = new Map<string, TypeState>();
  node: Node | undefined;
  /** The node id the client sent first: a stream keeps it for life. */
  claimedNodeId: string | undefined;
  /** The client certificate's identity, on mTLS. */
  identity: PeerIdentity | undefined;
  nodeGroup = "";
  closed = false;
  #flushScheduled = false;
  // Responses written to the call whose bytes HTTP/2 has not yet taken (their
  // write callbacks have not fired), and their size.
  #inFlight = 0;
  #inFlightBytes = 0;
  readonly #pendingTypes: TypeState[] = [];

  constructor(
    readonly call: ServerDuplexStream<Buffer, Uint8Array>,
    readonly peer: string,
    /** The gRPC service the stream came on (ADS or a per-type service). */
    readonly service: string,
    readonly ctx: ServerContext,
    readonly protocol: Protocol = "sotw",
  ) {
    this.id = `${process.pid.toString(36)}-${(++nextId).toString(36)}`;
  }

  get nodeId(): string {
    return this.node?.id ?? "";
  }

  /** A small identifying record for events. */
  ref(): ConnectionRef {
    return { id: this.id, nodeId: this.nodeId, nodeGroup: this.nodeGroup, peer: this.peer, identity: this.identity };
  }

  get registry(): SnapshotRegistry {
    return this.ctx.registry;
  }

  /** The state of a type, created on first use. */
  state(typeUrl: string, shortName: string, fullState: boolean): TypeState {
    let s = this.types.get(typeUrl);
    if (!s) {
      s = new TypeState(typeUrl, shortName, fullState);
      this.types.set(typeUrl, s);
    }
    return s;
  }

  /**
   * (Re-)arms the one watch of a type. `known` are the per-resource versions
   * the client has (or is about to get); without them every subscribed
   * resource is sent again.
   */
  arm(state: TypeState, known: ReadonlyMap<string, string> | undefined): void {
    state.cancelWatch?.();
    state.cancelWatch = undefined;
    if (this.closed) return;
    const cancel = this.registry.watch(
      {
        nodeGroup: this.nodeGroup,
        typeUrl: state.typeUrl,
        wildcard: state.wildcard,
        resourceNames: state.names,
        ...(known ? { knownVersions: known } : {}),
        mode: this.protocol,
      },
      (resp) => {
        if (state.cancelWatch === cancel) state.cancelWatch = undefined;
        this.#onWatch(state, resp);
      },
    );
    state.cancelWatch = cancel;
  }

  #onWatch(state: TypeState, given: WatchResponse): void {
    if (this.closed) return;
    const resp = this.#authorized(state, given);
    if (this.protocol === "delta") {
      this.#queueDelta(state, resp);
      return;
    }
    // SotW has no delete signal for EDS/RDS: a response that only removes is not sent.
    if (!state.fullState && resp.resources.length === 0) {
      state.sentVersions = resp.versions;
      this.arm(state, state.sentVersions);
      return;
    }
    const removalOnly =
      state.fullState &&
      resp.removed.length > 0 &&
      resp.resources.every((r) => state.sentVersions.get(r.name) === r.version);
    const prev = state.pending;
    let resources: readonly EncodedResource[] = resp.resources;
    if (prev && !state.fullState) {
      // Latest wins, but a partial (non-full-state) response must not lose the
      // changes of the one it replaces: merge by name.
      resources = mergeResources(prev.resources, resp);
    }
    this.#queue(state, {
      response: resp,
      version: resp.version,
      resources,
      removed: [],
      removalOnly: removalOnly && !(prev && !prev.removalOnly),
    });
    state.sentVersions = resp.versions;
    this.arm(state, state.sentVersions);
  }

  /**
   * Sensitive types (secrets) pass the per-resource hook: what the client may
   * not have is neither sent nor counted as held, and is reported.
   */
  #authorized(state: TypeState, resp: WatchResponse): WatchResponse {
    const hook = this.ctx.authorizeResource;
    if (!hook || !this.ctx.sensitiveTypes.has(state.typeUrl) || !this.node) return resp;
    const allowed: EncodedResource[] = [];
    const denied: string[] = [];
    for (const r of resp.resources) {
      let ok = false;
      try {
        ok = hook({ node: this.node, identity: this.identity, typeUrl: state.typeUrl, name: r.name });
      } catch (err) {
        this.ctx.log.error("resource authorization threw; withheld", {
          connection: this.id,
          name: r.name,
          error: String(err),
        });
      }
      if (ok) allowed.push(r);
      else denied.push(r.name);
    }
    if (denied.length === 0) return resp;
    for (const name of denied) {
      this.ctx.metrics?.refused?.("resource_denied");
      this.ctx.emit("resourceDenied", { connection: this.ref(), typeUrl: state.typeUrl, name });
    }
    return withholding(resp, allowed, denied, this.protocol === "delta");
  }

  #queueDelta(state: TypeState, resp: WatchResponse): void {
    const prev = state.pending;
    let resources = resp.resources;
    let removed = resp.removed;
    if (prev) {
      // Latest wins, merged by name: what the replaced response carried and is
      // still current goes out with this one; a name re-added is no longer removed.
      resources = mergeResources(prev.resources, resp);
      const added = new Set(resources.map((r) => r.name));
      const gone = new Set<string>();
      for (const n of prev.removed) if (!added.has(n)) gone.add(n);
      for (const n of resp.removed) if (!added.has(n)) gone.add(n);
      removed = [...gone];
    }
    for (const r of resp.resources) {
      if (r.ttlMs !== undefined) state.ttl.set(r.name, { version: r.version, ttlMs: r.ttlMs });
      else state.ttl.delete(r.name);
    }
    for (const n of resp.removed) state.ttl.delete(n);
    this.#queue(state, {
      response: resp,
      version: resp.version,
      resources,
      removed,
      removalOnly: resources.length === 0 && removed.length > 0,
    });
    state.sentVersions = resp.versions;
    this.arm(state, state.sentVersions);
    this.#scheduleHeartbeat(state);
  }

  #queue(state: TypeState, pending: PendingResponse): void {
    const hadPending = state.pending !== undefined;
    state.pending = pending;
    if (!hadPending) this.#pendingTypes.push(state);
    this.#scheduleFlush();
  }

  /**
   * Delta TTLs: while the client holds resources with a TTL, re-send them as
   * heartbeats (name, version and TTL, no body) at half the shortest TTL, so
   * they never expire while the control plane still serves them.
   */
  #scheduleHeartbeat(state: TypeState): void {
    if (state.ttl.size === 0) {
      if (state.heartbeat) clearTimeout(state.heartbeat);
      state.heartbeat = undefined;
      return;
    }
    if (state.heartbeat) return;
    let shortest = Number.POSITIVE_INFINITY;
    for (const e of state.ttl.values()) shortest = Math.min(shortest, e.ttlMs);
    state.heartbeat = setTimeout(
      () => {
        state.heartbeat = undefined;
        if (this.closed) return;
        this.#sendHeartbeat(state);
        this.#scheduleHeartbeat(state);
      },
      Math.max(10, shortest / 2),
    );
  }

  #sendHeartbeat(state: TypeState): void {
    const prev = state.pending;
    const inPending = new Set(prev?.resources.map((r) => r.name));
    const beats: EncodedResource[] = [];
    for (const [name, e] of state.ttl) {
      // A resource about to be sent in full needs no heartbeat.
      if (!inPending.has(name)) beats.push(heartbeatResource(name, state.typeUrl, e.version, e.ttlMs));
    }
    if (beats.length === 0) return;
    this.#queue(state, {
      response: undefined,
      version: prev?.version ?? state.sentVersion ?? "",
      resources: prev ? [...prev.resources, ...beats] : beats,
      removed: prev?.removed ?? [],
      removalOnly: false,
    });
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // A microtask lets every type touched by one registry change be queued
    // before the first is written, so the push order can be applied.
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.flush();
    });
  }

  #pickNext(): TypeState | undefined {
    let best: TypeState | undefined;
    let bestKey = Number.POSITIVE_INFINITY;
    for (const s of this.#pendingTypes) {
      const p = s.pending;
      if (!p) continue;
      // Additions in forward order; pure removals after every addition, in reverse order.
      const key = p.removalOnly ? 100 + (PUSH_ORDER.length - orderOf(s.typeUrl)) : orderOf(s.typeUrl);
      if (key < bestKey) {
        best = s;
        bestKey = key;
      }
    }
    return best;
  }

  /**
   * Writes pending responses in push order while the stream has room: fewer
   * in-flight bytes than the budget, and fewer in-flight writes than the
   * call's own buffer holds. The write callbacks (HTTP/2 took the bytes)
   * open room again.
   */
  flush(): void {
    while (!this.closed) {
      const state = this.#pickNext();
      // Only a stream with something to write waits for room.
      if (!state || !this.#hasRoom()) break;
      const pending = state.pending;
      state.pending = undefined;
      this.#pendingTypes.splice(this.#pendingTypes.indexOf(state), 1);
      if (pending) this.#write(state, pending);
    }
  }

  #hasRoom(): boolean {
    if (!this.ctx.sendBudget.admit(this)) return false;
    if (this.#inFlight === 0) return true;
    return this.#inFlightBytes < this.ctx.maxInFlightBytesPerStream && this.#inFlight < this.call.writableHighWaterMark;
  }

  /** The wire bytes of each SotW type's current names, for matching ACKs without decoding them. */
  knownNames(): { bytes: Uint8Array; count: number }[] {
    const out: { bytes: Uint8Array; count: number }[] = [];
    for (const s of this.types.values()) if (s.namesRaw) out.push({ bytes: s.namesRaw, count: s.namesList.length });
    return out;
  }

  /** Bytes written to the stream that HTTP/2 flow control has not yet taken. */
  inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  #written = (size: number): void => {
    this.#inFlight--;
    this.#inFlightBytes -= size;
    if (this.#pendingTypes.length > 0) this.flush();
    this.ctx.sendBudget.give(size);
  };

  #assemble(state: TypeState, pending: PendingResponse, nonce: string): Uint8Array {
    const controlPlane = this.ctx.controlPlaneId ? { controlPlane: this.ctx.controlPlaneId } : {};
    if (this.protocol === "sotw") {
      return assembleDiscoveryResponse(
        { versionInfo: pending.version, typeUrl: state.typeUrl, nonce, ...controlPlane },
        sotwBody(pending.resources),
      );
    }
    return assembleDeltaDiscoveryResponse(
      {
        systemVersionInfo: pending.version,
        typeUrl: state.typeUrl,
        nonce,
        removedResources: pending.removed,
        ...controlPlane,
      },
      deltaBody(pending.resources),
    );
  }

  #write(state: TypeState, pending: PendingResponse): void {
    const resp = pending.response;
    const started = process.hrtime.bigint();
    // A response shared by many streams is assembled once; a merged one is this stream's own.
    const shared =
      resp !== undefined &&
      pending.resources === resp.resources &&
      (this.protocol === "sotw" || pending.removed === resp.removed);
    const cache = this.protocol === "sotw" ? this.ctx.assembled : this.ctx.assembledDelta;
    let out = shared ? cache.get(resp) : undefined;
    // The registry hands out the same response again when a stream asks the
    // same thing of the same snapshot twice (a name set changed and changed
    // back). Nonces must not repeat on a stream, and a stream's nonces only
    // grow: an older shared one gets this stream a fresh assembly instead.
    if (out && out.seq <= state.sentSeq) out = undefined;
    if (!out) {
      const seq = this.ctx.nextNonce();
      const nonce = seq.toString(36);
      out = { nonce, seq, bytes: this.#assemble(state, pending, nonce) };
      if (shared && !cache.has(resp)) cache.set(resp, out);
    }
    const { nonce, bytes } = out;
    state.sentVersion = pending.version;
    state.sentNonce = nonce;
    state.sentChangedAt = resp?.changedAt;
    state.sentSeq = out.seq;
    state.sentAt = new Date();
    if (this.protocol === "delta") {
      state.recentNonces.set(nonce, pending.version);
      if (state.recentNonces.size > RECENT_NONCES) {
        const oldest = state.recentNonces.keys().next().value;
        if (oldest !== undefined) state.recentNonces.delete(oldest);
      }
    }
    const size = bytes.length;
    this.#inFlight++;
    this.#inFlightBytes += size;
    this.ctx.sendBudget.take(size);
    const written = performance.now();
    try {
      this.call.write(bytes, () => {
        this.ctx.metrics?.sent?.(state.shortName, (performance.now() - written) / 1000, size);
        this.#written(size);
      });
    } catch (err) {
      this.#inFlight--;
      this.#inFlightBytes -= size;
      this.ctx.sendBudget.give(size);
      this.ctx.metrics?.sendError(state.shortName);
      this.ctx.log.warn("write failed", { connection: this.id, error: String(err) });
      return;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.ctx.metrics?.push(state.shortName, seconds);
    this.ctx.emit("push", {
      connection: this.ref(),
      typeUrl: state.typeUrl,
      version: pending.version,
      nonce,
      resources: pending.resources.length,
      removed: pending.removed.length,
      bytes: bytes.length,
    });
  }

  /** Cancels every watch and drops pending responses. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.sendBudget.forget(this);
    for (const s of this.types.values()) {
      s.cancelWatch?.();
      s.cancelWatch = undefined;
      s.releaseNames(this.ctx.namePool);
      s.pending = undefined;
      if (s.heartbeat) clearTimeout(s.heartbeat);
      s.heartbeat = undefined;
    }
    this.#pendingTypes.length = 0;
  }

  /** Number of responses waiting for room on the stream. */
  pendingCount(): number {
    return this.#pendingTypes.length;
  }
}

/** A response without the resources a client may not have; `denied` lists them. */
function withholding(
  resp: WatchResponse,
  allowed: readonly EncodedResource[],
  denied: readonly string[],
  delta: boolean,
): WatchResponse {
  return {
    ...resp,
    resources: allowed,
    // Delta: a withheld name the client subscribed to is "not found" for it.
    removed: delta ? [...resp.removed, ...denied] : resp.removed,
  };
}

/** A newer partial response merged over an older pending one: older entries still current, then the newer ones. */
function mergeResources(older: readonly EncodedResource[], resp: WatchResponse): EncodedResource[] {
  const merged = new Map<string, EncodedResource>();
  for (const r of older) if (resp.versions.has(r.name)) merged.set(r.name, r);
  for (const r of resp.resources) merged.set(r.name, r);
  return [...merged.values()];
}
