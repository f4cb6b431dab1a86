import type { CancelWatch, EncodedResource, WatchResponse } from "@xdskit/snapshot";
import type { NamePool } from "./name-pool.js";

/** The last rejection of a type by a client. */
export interface NackRecord {
  readonly version: string;
  readonly nonce: string;
  readonly errorCode: number;
  readonly errorMessage: string;
  readonly at: Date;
}

/** A response waiting for the stream to have room; newer ones replace or merge into it. */
export interface PendingResponse {
  /** The registry response it came from; when `resources` and `removed` are its own, the assembled bytes are shared. */
  response: WatchResponse | undefined;
  /** SotW `version_info` / Delta `system_version_info`. */
  version: string;
  resources: readonly EncodedResource[];
  /** Delta only: names to list in `removed_resources`. */
  removed: readonly string[];
  /** True when the response only removes resources (sent after additions, in reverse order). */
  removalOnly: boolean;
}

/** A resource with a TTL the client holds (Delta): heartbeats keep it alive. */
export interface TtlEntry {
  readonly version: string;
  readonly ttlMs: number;
}

/**
 * The state of one type URL on one stream: what the client subscribed to,
 * what it was sent, what it accepted and what it rejected.
 */
export class TypeState {
  /** Subscribed to every resource (legacy empty list on LDS/CDS, or `*`). */
  wildcard = false;
  /** Explicitly named resources (never mutated in place: watches hold a reference). */
  names: ReadonlySet<string> = new Set();
  /** The client has named resources at least once, so an empty list no longer means wildcard. */
  namedOnce = false;
  sentVersion: string | undefined;
  sentNonce: string | undefined;
  /** The number behind `sentNonce` (0 before the first response). */
  sentSeq = 0;
  /** When (epoch ms) the last response was written: a number, not a Date, as it is set on every write. */
  sentAt: number | undefined;
  /** When the change behind the last response sent was seen (epoch ms), until the client ACKs it. */
  sentChangedAt: number | undefined;
  /** Per-resource versions the client has been sent (or will be, once the pending response goes out). */
  sentVersions: ReadonlyMap<string, string> = new Map();
  ackedVersion: string | undefined;
  ackedAt: Date | undefined;
  /**
   * SotW: the version a new stream's first request said the client holds,
   * until the first response for the type is decided. When it is the current
   * version and covers every resource of the type, that response is not sent.
   */
  resumeVersion: string | undefined;
  /** SotW: the stream began holding the current version, so nothing was resent on connect. */
  resumed = false;
  lastNack: NackRecord | undefined;
  requests = 0;
  /** SotW: identifies the names of the last request (a key of the server's name pool); undefined before any. */
  namesKey: string | undefined;
  /** SotW: the names of the last request, as listed (shared with every stream listing the same). */
  namesList: readonly string[] = [];
  /** SotW: their wire bytes, when known (shared too). */
  namesRaw: Uint8Array | undefined;
  cancelWatch: CancelWatch | undefined;
  pending: PendingResponse | undefined;
  /** Delta: recently sent nonces and the system version each carried, so any of them can be ACKed. */
  readonly recentNonces = new Map<string, string>();
  /** Delta: resources with a TTL the client was sent, by name. */
  readonly ttl = new Map<string, TtlEntry>();
  /** Delta: the heartbeat timer, while `ttl` is not empty. */
  heartbeat: NodeJS.Timeout | undefined;

  constructor(
    readonly typeUrl: string,
    readonly shortName: string,
    readonly fullState: boolean,
  ) {}

  /**
   * Applies the names of a SotW request by the xDS wildcard rules and reports
   * whether the subscription changed: `*` is wildcard; an empty list is the
   * legacy wildcard for LDS/CDS until the client has named something, and
   * "nothing" after that (and for every other type). `key` identifies the
   * names (see request-scan); the same key as last time means the same names,
   * which are then not looked at. Name sets are shared through `pool`.
   */
  applySotwNames(names: readonly string[], key: string, raw: Uint8Array | undefined, pool: NamePool): boolean {
    if (key === this.namesKey) return false;
    const explicitOf = () => {
      const explicit = new Set<string>();
      for (const n of names) if (n !== "*") explicit.add(n);
      return explicit;
    };
    const pooled =
      key === "" ? { names: EMPTY_NAMES, list: NO_NAMES, raw: undefined } : pool.acquire(key, names, raw, explicitOf);
    const explicit = pooled.names;
    this.namesList = pooled.list;
    this.namesRaw = pooled.raw;
    if (this.namesKey) pool.release(this.namesKey);
    this.namesKey = key;
    let wildcard: boolean;
    if (names.length > 0) {
      wildcard = names.includes("*");
      this.namedOnce = true;
    } else {
      wildcard = this.fullState && !this.namedOnce;
    }
    const changed = wildcard !== this.wildcard || !sameSet(explicit, this.names);
    this.wildcard = wildcard;
    // Keep the set object the watches hold when nothing changed.
    if (changed || explicit !== this.names) this.names = explicit;
    return changed;
  }

  /** Gives back the pooled name set (the stream ended). */
  releaseNames(pool: NamePool): void {
    if (this.namesKey) pool.release(this.namesKey);
    this.namesKey = undefined;
  }
}

const EMPTY_NAMES: ReadonlySet<string> = new Set();
const NO_NAMES: readonly string[] = Object.freeze([]);

/** Whether two name sets hold the same names. */
export function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
