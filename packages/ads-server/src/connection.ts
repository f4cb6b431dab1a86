import type { ServerDuplexStream } from "@grpc/grpc-js";
import {
  type EncodedResource,
  type SnapshotRegistry,
  type WatchResponse,
  assembleDiscoveryResponse,
  sotwBody,
} from "@xdskit/snapshot";
import { TypeUrl } from "@xdskit/xds-types";
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import type { ConnectionRef } from "./events.js";
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
  nodeGroup = "";
  closed = false;
  #flushScheduled = false;
  #blocked = false;
  readonly #pendingTypes: TypeState[] = [];

  constructor(
    readonly call: ServerDuplexStream<Buffer, Uint8Array>,
    readonly peer: string,
    /** The gRPC service the stream came on (ADS or a per-type service). */
    readonly service: string,
    readonly ctx: ServerContext,
  ) {
    this.id = `${process.pid.toString(36)}-${(++nextId).toString(36)}`;
  }

  get nodeId(): string {
    return this.node?.id ?? "";
  }

  /** A small identifying record for events. */
  ref(): ConnectionRef {
    return { id: this.id, nodeId: this.nodeId, nodeGroup: this.nodeGroup, peer: this.peer };
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
        mode: "sotw",
      },
      (resp) => {
        if (state.cancelWatch === cancel) state.cancelWatch = undefined;
        this.#onWatch(state, resp);
      },
    );
    state.cancelWatch = cancel;
  }

  #onWatch(state: TypeState, resp: WatchResponse): void {
    if (this.closed) return;
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
      const merged = new Map<string, EncodedResource>();
      for (const r of prev.resources) if (resp.versions.has(r.name)) merged.set(r.name, r);
      for (const r of resp.resources) merged.set(r.name, r);
      resources = [...merged.values()];
    }
    const pending: PendingResponse = {
      response: resp,
      resources,
      removalOnly: removalOnly && !(prev && !prev.removalOnly),
    };
    state.pending = pending;
    if (!prev) this.#pendingTypes.push(state);
    state.sentVersions = resp.versions;
    this.arm(state, state.sentVersions);
    this.#scheduleFlush();
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

  /** Writes pending responses in push order until the stream reports a full buffer. */
  flush(): void {
    while (!this.#blocked && !this.closed) {
      const state = this.#pickNext();
      if (!state) break;
      const pending = state.pending;
      state.pending = undefined;
      this.#pendingTypes.splice(this.#pendingTypes.indexOf(state), 1);
      if (!pending) continue;
      if (!this.#write(state, pending)) {
        this.#blocked = true;
        this.call.once("drain", () => {
          this.#blocked = false;
          this.flush();
        });
      }
    }
  }

  #write(state: TypeState, pending: PendingResponse): boolean {
    const resp = pending.response;
    const started = process.hrtime.bigint();
    // A response shared by many streams is assembled once; a merged one is this stream's own.
    const shared = pending.resources === resp.resources;
    let out = shared ? this.ctx.assembled.get(resp) : undefined;
    if (!out) {
      const nonce = this.ctx.nextNonce();
      const bytes = assembleDiscoveryResponse(
        {
          versionInfo: resp.version,
          typeUrl: state.typeUrl,
          nonce,
          ...(this.ctx.controlPlaneId ? { controlPlane: this.ctx.controlPlaneId } : {}),
        },
        sotwBody(pending.resources),
      );
      out = { nonce, bytes };
      if (shared) this.ctx.assembled.set(resp, out);
    }
    const { nonce, bytes } = out;
    state.sentVersion = resp.version;
    state.sentNonce = nonce;
    state.sentAt = new Date();
    let ok = true;
    try {
      ok = this.call.write(bytes);
    } catch (err) {
      this.ctx.metrics?.sendError(state.shortName);
      this.ctx.log.warn("write failed", { connection: this.id, error: String(err) });
      return true;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.ctx.metrics?.push(state.shortName, seconds);
    this.ctx.emit("push", {
      connection: this.ref(),
      typeUrl: state.typeUrl,
      version: resp.version,
      nonce,
      resources: pending.resources.length,
      bytes: bytes.length,
    });
    return ok;
  }

  /** Cancels every watch and drops pending responses. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.types.values()) {
      s.cancelWatch?.();
      s.cancelWatch = undefined;
      s.pending = undefined;
    }
    this.#pendingTypes.length = 0;
  }

  /** Number of responses waiting for room on the stream. */
  pendingCount(): number {
    return this.#pendingTypes.length;
  }
}
