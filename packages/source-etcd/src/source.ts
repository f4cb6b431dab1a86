// The etcd source: list the prefix once, then watch it from the listed
// revision. etcd3's watcher resumes from the last revision it saw when the
// connection comes back; a watch etcd cancels (its revision was compacted)
// or that fails for good is replaced by a new list, which pushes only what
// differs. Until the first list succeeds the source is not ready, and the
// controller serves nothing; after that, losing etcd keeps the last good mesh.
import { EventEmitter } from "node:events";
import type { ConfigStore, Gateway, RouteRule, Service, ServiceRegistry, SourceEvents } from "@xdskit/config-generator";
import { ExponentialBackoff } from "cockatiel";
import { Etcd3, type IOptions, type Watcher } from "etcd3";
import { type EntryKey, checkPrefix, parseKey } from "./layout.js";
import { MeshState, type RejectedKey } from "./state.js";
import { type EtcdTlsFiles, etcdConnection } from "./tls.js";

/** Options of {@link createEtcdSource}. */
export interface EtcdSourceOptions {
  /** etcd client URLs, e.g. `["http://127.0.0.1:2379"]`. */
  readonly endpoints: readonly string[];
  /** Where the mesh lives; must start and end with `/`. Default `/xdskit/`. */
  readonly prefix?: string;
  /** First retry after a failed list, ms (doubling, jittered, up to `maxRetryMs`). Default 200. */
  readonly retryMs?: number;
  /** Longest wait between retries, ms. Default 5000. */
  readonly maxRetryMs?: number;
  /** Longest a single list may take, ms. Default 10000. */
  readonly listTimeoutMs?: number;
  /** Largest value accepted, in bytes; a bigger one is refused with its key. Default 1 MiB. */
  readonly maxValueBytes?: number;
  /**
   * Most keys under the prefix. A list finding more is refused whole (the
   * last good mesh stays) and retried; a new key beyond it is refused until
   * deletions make room. Default 100,000.
   */
  readonly maxKeys?: number;
  /** TLS to etcd (https:// endpoints): the CA, and a client certificate for `--client-cert-auth`. */
  readonly tls?: EtcdTlsFiles;
  /** More etcd3 client options (auth, gRPC options…). */
  readonly client?: Omit<IOptions, "hosts">;
}

/** What the source knows about its connection to etcd. */
export interface EtcdSourceStatus {
  /** The first list succeeded: the mesh is loaded. */
  readonly ready: boolean;
  /** The watch is connected to etcd now. */
  readonly connected: boolean;
  /** The store revision the source has caught up to (0 before the first list). */
  readonly revision: number;
  /** How long the source has been out of touch with etcd, ms (0 when connected). */
  readonly lagMs: number;
  /** The last error talking to etcd, when out of touch. */
  readonly lastError: string | undefined;
  /** Lists done (the first, and one after each lost watch). */
  readonly lists: number;
  /** Keys whose latest value is not served, and why. */
  readonly rejected: readonly RejectedKey[];
}

/** The etcd source's events: a source's `change` and `rejected`, and its connection's ups and downs. */
export interface EtcdSourceEvents extends SourceEvents {
  /** The source lost etcd (`connected: false`, with the error) or got it back; fired on each transition. */
  connection: (event: { connected: boolean; error?: string; revision: number }) => void;
}

/** A mesh kept in etcd, as a service registry and config store. */
export interface EtcdSource extends ServiceRegistry, ConfigStore {
  /** Listens for the connection to etcd being lost or regained. */
  on(event: "connection", listener: EtcdSourceEvents["connection"]): unknown;
  /** Listens for changes. */
  on(event: "change", listener: SourceEvents["change"]): unknown;
  /** Listens for refused values (the key keeps its last good value). */
  on(event: "rejected", listener: SourceEvents["rejected"]): unknown;
  /** The key prefix. */
  readonly prefix: string;
  /** False until etcd was listed once. */
  ready(): boolean;
  /** Connection state, revision, lag and refused keys. */
  status(): EtcdSourceStatus;
  /** Resolves once the first list succeeded (rejects after `timeoutMs`). */
  whenReady(timeoutMs?: number): Promise<void>;
  /** Stops watching and closes the client. */
  close(): Promise<void>;
}

const text = (b: Buffer | Uint8Array | null | undefined) => (b ? Buffer.from(b).toString("utf8") : "");

class EtcdSourceImpl
  extends EventEmitter<{ [K in keyof EtcdSourceEvents]: Parameters<EtcdSourceEvents[K]> }>
  implements EtcdSource
{
  readonly prefix: string;
  readonly #client: Etcd3;
  readonly #state: MeshState;
  readonly #options: EtcdSourceOptions;
  #ready = false;
  #connected = false;
  #revision = 0;
  #outSince: number | undefined = Date.now();
  #lastError: string | undefined;
  #lists = 0;
  #watcher: Watcher | undefined;
  #retry: NodeJS.Timeout | undefined;
  #attempt = 0;
  #closed = false;
  #relisting = false;
  #limitReason: string | undefined;

  constructor(options: EtcdSourceOptions) {
    super();
    if (!Array.isArray(options.endpoints) || options.endpoints.length === 0)
      throw new Error("createEtcdSource: endpoints must list at least one etcd URL, like http://127.0.0.1:2379");
    this.prefix = checkPrefix(options.prefix ?? "/xdskit/");
    this.#options = options;
    this.#state = new MeshState({
      maxValueBytes: options.maxValueBytes ?? 1 << 20,
      maxKeys: options.maxKeys ?? 100_000,
    });
    let connection: ReturnType<typeof etcdConnection>;
    try {
      connection = etcdConnection(options.endpoints, options.tls);
    } catch (err) {
      throw new Error(`createEtcdSource: ${(err as Error).message}`);
    }
    this.#client = new Etcd3({
      dialTimeout: 5000,
      ...options.client,
      ...connection,
      faultHandling: {
        // The watch comes back as soon as etcd does (etcd3's default waits up to 30 s).
        watchBackoff: new ExponentialBackoff({
          initialDelay: options.retryMs ?? 200,
          maxDelay: options.maxRetryMs ?? 5000,
        }) as never,
        ...options.client?.faultHandling,
      },
    });
    void this.#list();
  }

  ready(): boolean {
    return this.#ready;
  }

  services(): readonly Service[] {
    return this.#state.services();
  }

  routes(): readonly RouteRule[] {
    return this.#state.routes();
  }

  gateways(): readonly Gateway[] {
    return this.#state.gateways();
  }

  status(): EtcdSourceStatus {
    return {
      ready: this.#ready,
      connected: this.#connected,
      revision: this.#revision,
      lagMs: this.#outSince === undefined ? 0 : Date.now() - this.#outSince,
      lastError: this.#lastError,
      lists: this.#lists,
      rejected: this.#state.rejected(),
    };
  }

  whenReady(timeoutMs = 30_000): Promise<void> {
    if (this.#ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off("change", done);
        reject(
          new Error(
            `etcd at ${this.#options.endpoints.join(",")} was not read within ${timeoutMs} ms: ${this.#lastError ?? "no answer"}`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        if (!this.#ready) return;
        clearTimeout(timer);
        this.off("change", done);
        resolve();
      };
      this.on("change", done);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    await this.#watcher?.cancel().catch(() => undefined);
    this.#client.close();
  }

  // Lists the prefix and puts the result in place of what the store held,
  // then watches from the listed revision.
  async #list(): Promise<void> {
    if (this.#closed) return;
    this.#relisting = true;
    try {
      const deadline = Date.now() + (this.#options.listTimeoutMs ?? 10_000);
      // Counted first, so a prefix grown past the limit is never loaded.
      const count = await this.#client.getAll().prefix(this.prefix).options({ deadline }).count();
      const maxKeys = this.#options.maxKeys ?? 100_000;
      if (count > maxKeys) {
        this.#back();
        this.#overLimit(
          `the prefix ${this.prefix} holds ${count} keys, more than the limit of ${maxKeys} (maxKeys); serving the last good mesh and retrying`,
        );
        this.#schedule();
        return;
      }
      const res = await this.#client.getAll().prefix(this.prefix).options({ deadline }).exec();
      this.#limitReason = undefined;
      if (this.#closed) return;
      const changes: { key: string; entry: EntryKey; text: string | undefined }[] = [];
      const seen = new Set<string>();
      for (const kv of res.kvs) {
        const key = text(kv.key);
        const entry = parseKey(this.prefix, key);
        if (!entry) continue;
        seen.add(key);
        changes.push({ key, entry, text: text(kv.value) });
      }
      for (const key of this.#state.rawKeys()) {
        const entry = parseKey(this.prefix, key);
        if (!seen.has(key) && entry) changes.push({ key, entry, text: undefined });
      }
      this.#revision = Number(res.header.revision);
      this.#lists++;
      this.#back();
      const wasReady = this.#ready;
      this.#ready = true;
      this.#attempt = 0;
      this.#apply(changes, wasReady ? "etcd re-listed" : "etcd listed", !wasReady);
      this.#watch();
    } catch (err) {
      this.#lost(err);
      this.#schedule();
    } finally {
      this.#relisting = false;
    }
  }

  #watch(): void {
    void this.#watcher?.cancel().catch(() => undefined);
    // watcher(), not create(): the handlers are on before the stream opens, so
    // a connection lost while it opens is seen too.
    const watcher = this.#client
      .watch()
      .prefix(this.prefix)
      .startRevision(String(this.#revision + 1))
      .watcher();
    this.#watcher = watcher;
    watcher.on("connected", () => this.#back());
    watcher.on("disconnected", (err) => this.#lost(err));
    watcher.on("data", (res) => {
      // One response is one store revision or more: applied as one change.
      const changes: { key: string; entry: EntryKey; text: string | undefined }[] = [];
      for (const ev of res.events) {
        const key = text(ev.kv.key);
        const entry = parseKey(this.prefix, key);
        if (entry) changes.push({ key, entry, text: ev.type === "Delete" ? undefined : text(ev.kv.value) });
      }
      if (res.header?.revision) this.#revision = Math.max(this.#revision, Number(res.header.revision));
      if (changes.length > 0)
        this.#apply(changes, `etcd ${changes.map((c) => c.key.slice(this.prefix.length)).join(", ")}`, false);
      // Deletions made room for keys refused when the prefix was full: read them.
      if (this.#state.wantsRelist() && !this.#relisting && !this.#retry) this.#schedule(0);
    });
    watcher.on("error", (err) => {
      // Canceled by etcd (compacted revision) or failed for good: list again.
      if (watcher !== this.#watcher || this.#closed) return;
      this.#watcher = undefined;
      this.#lost(err);
      void watcher.cancel().catch(() => undefined);
      if (!this.#relisting) this.#schedule(0);
    });
  }

  #apply(changes: { key: string; entry: EntryKey; text: string | undefined }[], reason: string, first: boolean): void {
    const result = this.#state.apply(changes);
    for (const r of result.rejected) {
      this.emit("rejected", { reason: `${r.key} rejected; its last good value stays`, error: new Error(r.reason) });
    }
    if (first) {
      this.emit("change", { kinds: ["services", "endpoints", "routes", "gateways"], reason });
      return;
    }
    if (result.kinds.size > 0) this.emit("change", { kinds: [...result.kinds], reason });
  }

  // Refuses a list over the key limit, reported once per distinct reason.
  #overLimit(reason: string): void {
    if (this.#limitReason !== reason) this.emit("rejected", { reason: "etcd list refused", error: new Error(reason) });
    this.#limitReason = reason;
    this.#lastError = reason;
  }

  #back(): void {
    const was = this.#connected;
    this.#connected = true;
    this.#outSince = undefined;
    this.#lastError = undefined;
    if (!was) this.emit("connection", { connected: true, revision: this.#revision });
  }

  #lost(err: unknown): void {
    const was = this.#connected;
    this.#connected = false;
    this.#outSince ??= Date.now();
    const message = err instanceof Error ? err.message || err.name : String(err ?? "");
    this.#lastError = message || "the connection to etcd was lost";
    if (was) this.emit("connection", { connected: false, error: this.#lastError, revision: this.#revision });
  }

  #schedule(delay?: number): void {
    if (this.#closed) return;
    if (this.#retry) clearTimeout(this.#retry);
    const base = this.#options.retryMs ?? 200;
    const max = this.#options.maxRetryMs ?? 5000;
    const wait = delay ?? Math.min(max, base * 2 ** this.#attempt) * (0.5 + Math.random() * 0.5);
    this.#attempt++;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#list();
    }, wait);
    this.#retry.unref();
  }
}

/**
 * A service registry and config store backed by etcd v3 (docs/scale-out.md):
 * `<prefix>services/<name>`, `<prefix>routes/<host>` and
 * `<prefix>gateways/<port>`, values in the mesh file's schema as YAML or
 * JSON. Not ready until etcd was listed once; a bad key is refused with its
 * key and path and keeps its last good value, others go on updating.
 */
export function createEtcdSource(options: EtcdSourceOptions): EtcdSource {
  return new EtcdSourceImpl(options);
}
