// One kind of Kubernetes object kept in memory the way client-go's reflector
// keeps it: list (in pages), then watch from the list's resourceVersion with
// bookmarks; a watch the server ends is resumed from the last version seen;
// a 410 Gone (the version was compacted away) re-lists and reports only what
// differs from what is held; any other failure reconnects after a jittered,
// growing pause. The objects are kept as the API server sends them.
import type { KubernetesObject, KubernetesObjectApi, Watch } from "@kubernetes/client-node";
import type { RawLister } from "./raw-list.js";

/** Where a kind is listed and watched. */
export interface KindSpec {
  /** `v1`, `discovery.k8s.io/v1`… */
  readonly apiVersion: string;
  /** `Service`, `EndpointSlice`… */
  readonly kind: string;
  /** The list/watch path: `/api/v1/services`, or per namespace. */
  readonly path: string;
  /** The namespace of a per-namespace path. */
  readonly namespace?: string;
  /** A label selector the server applies. */
  readonly labelSelector?: string;
  /** Keeps only what is read of each object (a Pod is kilobytes; its labels and IPs are what matter). */
  readonly transform?: (o: KubernetesObject) => KubernetesObject;
  /** Lists as plain JSON (custom resources: the typed client drops what its models do not know). */
  readonly rawList?: RawLister;
}

/** What a reflector reports about itself. */
export interface ReflectorStatus {
  /** The first list completed. */
  readonly synced: boolean;
  /** A watch is open now. */
  readonly connected: boolean;
  /** The resourceVersion caught up to. */
  readonly resourceVersion: string;
  /** Lists done: the first, and one after each 410. */
  readonly lists: number;
  /** The last failure, while out of touch. */
  readonly lastError: string | undefined;
  /** When (epoch ms) the reflector last lost the server; undefined while connected. */
  readonly lostAt: number | undefined;
  /** Objects held. */
  readonly objects: number;
}

/** Timing and limits of a reflector. */
export interface ReflectorOptions {
  /** Objects per list page. Default 500. */
  readonly pageSize: number;
  /** First pause after a failure, ms (doubling, jittered). Default 200. */
  readonly retryMs: number;
  /** Longest pause, ms. Default 5000. */
  readonly maxRetryMs: number;
  /** Most objects of the kind held; a list finding more fails (the last good objects stay). */
  readonly maxObjects: number;
  /** How long a watch asks the server to stay open before it is renewed, s (jittered ±50 %). Default 300. */
  readonly watchTimeoutS: number;
}

/** Changes the reflector applied: the keys (`namespace/name`) added, changed or removed. */
export type ReflectorChange = { readonly keys: readonly string[]; readonly relisted: boolean };

const keyOf = (o: KubernetesObject) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;

/** Keeps one kind of object in sync with the API server. */
export class Reflector<T extends KubernetesObject = KubernetesObject> {
  #resourceVersion = "";
  #synced = false;
  #connected = false;
  #lists = 0;
  #lastError: string | undefined;
  #lostAt: number | undefined;
  #stopped = false;
  #abort: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;

  constructor(
    /** Where the objects are kept, by `namespace/name` (several per-namespace reflectors may share one). */
    readonly objects: Map<string, T>,
    readonly spec: KindSpec,
    readonly api: KubernetesObjectApi,
    readonly watcher: Watch,
    readonly options: ReflectorOptions,
    /** Called after objects changed (never for a no-op), and on connection changes with an empty key list. */
    readonly onChange: (change: ReflectorChange) => void,
    readonly onConnection: (connected: boolean, error?: string) => void,
  ) {}

  /** Starts listing and watching. */
  start(): void {
    this.#stopped = false;
    void this.#run(true);
  }

  /** Stops watching; the objects stay. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort?.abort();
    this.#abort = undefined;
  }

  status(): ReflectorStatus {
    return {
      synced: this.#synced,
      connected: this.#connected,
      resourceVersion: this.#resourceVersion,
      lists: this.#lists,
      lastError: this.#lastError,
      lostAt: this.#lostAt,
      objects: this.objects.size,
    };
  }

  async #run(list: boolean): Promise<void> {
    if (this.#stopped) return;
    try {
      if (list || this.#resourceVersion === "") await this.#list();
      await this.#watch();
    } catch (err) {
      this.#failed(err);
    }
  }

  async #list(): Promise<void> {
    const { spec, options } = this;
    const fresh = new Map<string, T>();
    let token: string | undefined;
    let version = "";
    do {
      const page = spec.rawList
        ? await spec
            .rawList(spec.path, { limit: options.pageSize, continue: token, labelSelector: spec.labelSelector })
            .then((p) => ({
              items: p.items as T[],
              metadata: { resourceVersion: p.metadata?.resourceVersion, _continue: p.metadata?.continue },
            }))
        : await this.api.list<T>(
            spec.apiVersion,
            spec.kind,
            spec.namespace,
            undefined,
            undefined,
            undefined,
            undefined,
            spec.labelSelector,
            options.pageSize,
            token,
          );
      for (const o of page.items) fresh.set(keyOf(o), this.#transform(o));
      if (fresh.size > options.maxObjects) {
        throw new Error(
          `${spec.kind} list at ${spec.path} holds more than ${options.maxObjects} objects (maxObjects); the last good ones stay`,
        );
      }
      token = page.metadata?._continue || undefined;
      version = page.metadata?.resourceVersion ?? version;
    } while (token && !this.#stopped);
    if (this.#stopped) return;
    const changed: string[] = [];
    for (const [k, o] of fresh) {
      if (this.objects.get(k)?.metadata?.resourceVersion !== o.metadata?.resourceVersion) changed.push(k);
    }
    // Only this reflector's own objects: per-namespace reflectors share a store.
    const mine = spec.namespace ? `${spec.namespace}/` : undefined;
    for (const k of [...this.objects.keys()]) {
      if ((mine === undefined || k.startsWith(mine)) && !fresh.has(k)) {
        this.objects.delete(k);
        changed.push(k);
      }
    }
    for (const [k, o] of fresh) this.objects.set(k, o);
    const relisted = this.#lists > 0;
    this.#lists++;
    this.#resourceVersion = version;
    const first = !this.#synced;
    this.#synced = true;
    if (changed.length > 0 || first) this.onChange({ keys: changed, relisted });
  }

  async #watch(): Promise<void> {
    if (this.#stopped) return;
    const jitter = 0.5 + Math.random();
    const query = {
      resourceVersion: this.#resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: Math.round(this.options.watchTimeoutS * jitter),
      ...(this.spec.labelSelector ? { labelSelector: this.spec.labelSelector } : {}),
    };
    let gone = false;
    const abort = await this.watcher.watch(
      this.spec.path,
      query,
      (phase: string, obj: T & { code?: number; message?: string }) => {
        if (phase === "ERROR") {
          // 410: the version is too old (compacted); start again from a list.
          if (obj.code === 410) gone = true;
          else this.#lastError = `watch error ${obj.code ?? ""}: ${obj.message ?? ""}`;
          return;
        }
        this.#connectedNow();
        const v = obj.metadata?.resourceVersion;
        if (phase === "BOOKMARK") {
          if (v) this.#resourceVersion = v;
          return;
        }
        const key = keyOf(obj);
        if (phase === "DELETED") this.objects.delete(key);
        else {
          if (!this.objects.has(key) && this.objects.size >= this.options.maxObjects) {
            this.#lastError = `more than ${this.options.maxObjects} ${this.spec.kind} objects (maxObjects): ${key} is not held`;
            return;
          }
          this.objects.set(key, this.#transform(obj));
        }
        if (v) this.#resourceVersion = v;
        this.onChange({ keys: [key], relisted: false });
      },
      (err: unknown) => {
        this.#abort = undefined;
        if (this.#stopped) return;
        if (gone || isGone(err)) {
          void this.#run(true);
          return;
        }
        if (err) {
          this.#failed(err);
          return;
        }
        // The server closed the watch (its timeout): resume from the last version.
        void this.#run(false);
      },
    );
    this.#abort = abort;
    if (this.#stopped) abort.abort();
    else this.#connectedNow();
  }

  #transform(o: T): T {
    return (this.spec.transform ? this.spec.transform(o) : o) as T;
  }

  #connectedNow(): void {
    this.#failures = 0;
    if (this.#connected) return;
    this.#connected = true;
    this.#lastError = undefined;
    this.#lostAt = undefined;
    this.onConnection(true);
  }

  #failed(err: unknown): void {
    if (this.#stopped) return;
    const message = describe(err);
    this.#lastError = message;
    if (this.#connected || this.#lostAt === undefined) {
      this.#connected = false;
      this.#lostAt = Date.now();
      this.onConnection(false, message);
    }
    const { retryMs, maxRetryMs } = this.options;
    const pause = Math.min(maxRetryMs, retryMs * 2 ** this.#failures) * (0.5 + Math.random() / 2);
    this.#failures = Math.min(this.#failures + 1, 20);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // A 410 while listing is impossible; after any other failure, resume the watch when there is a version.
      void this.#run(this.#resourceVersion === "");
    }, pause);
    this.#timer.unref();
  }
}

function isGone(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: number | string; message?: string } | null;
  return e?.statusCode === 410 || e?.code === 410 || /\b410\b/.test(e?.message ?? "");
}

function describe(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string } | null;
  if (e && typeof e.code === "number" && e.body) {
    const body = typeof e.body === "string" ? e.body : JSON.stringify(e.body);
    return `HTTP ${e.code}: ${body.slice(0, 300)}`;
  }
  return e?.message ?? String(err);
}
