import type { ServerDuplexStream } from "@grpc/grpc-js";
import { type EncodedResource, type SnapshotRegistry, type WatchResponse, heartbeatResource } from "@xdskit/snapshot";
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import type { ConnectionRef } from "./events.js";
import type { PeerIdentity } from "./identity.js";
import type { ServerContext } from "./server-context.js";
import { SendQueue, type SendTarget } from "./send-queue.js";
import { TypeState } from "./type-state.js";

let nextId = 0;

/** Which flavour of xDS a stream speaks. */
export type Protocol = "sotw" | "delta";

/**
 * One xDS stream: who is on the other end, what each of its types is
 * subscribed to and was sent, and a send queue that honours HTTP/2 flow
 * control with at most one pending response per type.
 */
export class Connection implements SendTarget {
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
  /** Set by the stream's life: ends the stream when its send deadline passed. */
  onSendTimeout: ((waitedMs: number, bytes: number, typeName: string) => void) | undefined;
  readonly sends: SendQueue;

  constructor(
    readonly call: ServerDuplexStream<Buffer, Uint8Array>,
    readonly peer: string,
    /** The gRPC service the stream came on (ADS or a per-type service). */
    readonly service: string,
    readonly ctx: ServerContext,
    readonly protocol: Protocol = "sotw",
  ) {
    this.id = `${process.pid.toString(36)}-${(++nextId).toString(36)}`;
    this.sends = new SendQueue(this);
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
    if (state.resumeVersion !== undefined) {
      const claimed = state.resumeVersion;
      state.resumeVersion = undefined;
      if (this.#holdsAll(state, resp, claimed)) {
        this.#resume(state, resp);
        return;
      }
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
    this.sends.queue(state, {
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
   * True when a SotW client that says it holds `claimed` holds exactly what
   * `resp` would send: the same version, and every resource of the type (a
   * client that named fewer may have asked for more since it last ACKed, and
   * must be answered). Secrets are always answered.
   */
  #holdsAll(state: TypeState, resp: WatchResponse, claimed: string): boolean {
    if (resp.version !== claimed || resp.removed.length > 0) return false;
    if (this.ctx.sensitiveTypes.has(state.typeUrl)) return false;
    const all = this.registry.getSnapshot(this.nodeGroup)?.get(state.typeUrl)?.resources.size ?? 0;
    return resp.resources.length === all;
  }

  /** The client already holds the current version: record it as sent and ACKed, send nothing, and watch for the next change. */
  #resume(state: TypeState, resp: WatchResponse): void {
    state.sentVersion = resp.version;
    state.ackedVersion = resp.version;
    state.ackedAt = new Date();
    state.sentVersions = resp.versions;
    state.resumed = true;
    this.ctx.emit("resumed", { connection: this.ref(), typeUrl: state.typeUrl, version: resp.version });
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
    this.sends.queue(state, {
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
    this.sends.queue(state, {
      response: undefined,
      version: prev?.version ?? state.sentVersion ?? "",
      resources: prev ? [...prev.resources, ...beats] : beats,
      removed: prev?.removed ?? [],
      removalOnly: false,
    });
  }

  /** Writes pending responses while there is room (shutdown calls it to drain). */
  flush(): void {
    this.sends.flush();
  }

  /** The wire bytes of each SotW type's current names, for matching ACKs without decoding them. */
  knownNames(): { bytes: Uint8Array; count: number }[] {
    const out: { bytes: Uint8Array; count: number }[] = [];
    for (const s of this.types.values()) if (s.namesRaw) out.push({ bytes: s.namesRaw, count: s.namesList.length });
    return out;
  }

  /** Bytes written to the stream that HTTP/2 flow control has not yet taken. */
  inFlightBytes(): number {
    return this.sends.inFlightBytes();
  }

  /** How long the oldest unsent write has waited, once it stopped counting against the shared budget. */
  stalledMs(): number | undefined {
    const h = this.ctx.sendBudget.holding(this.sends);
    return h?.stalled ? Math.round(h.waitedMs) : undefined;
  }

  sendTimedOut(waitedMs: number, bytes: number, typeName: string): void {
    this.onSendTimeout?.(waitedMs, bytes, typeName);
  }

  /** Cancels every watch and drops pending responses. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sends.close();
    for (const s of this.types.values()) {
      s.cancelWatch?.();
      s.cancelWatch = undefined;
      s.releaseNames(this.ctx.namePool);
      s.pending = undefined;
      if (s.heartbeat) clearTimeout(s.heartbeat);
      s.heartbeat = undefined;
    }
  }

  /** Number of responses waiting for room on the stream. */
  pendingCount(): number {
    return this.sends.pendingCount();
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
