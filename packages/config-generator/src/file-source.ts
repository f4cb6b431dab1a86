import fs from "node:fs";
import path from "node:path";
import { XdsError } from "@xdskit/xds-types";
import { EventEmitter } from "eventemitter3";
import type { MeshFile } from "./mesh-file.js";
import { readMeshFile } from "./mesh-parse-worker.js";
import { ParseWorker } from "./parse-worker.js";
import type { ChangeKind, Gateway, RouteRule, Service } from "./model.js";
import { reuseUnchanged, serviceChanges } from "./source-model.js";
import type { ConfigStore, ServiceRegistry, SourceEvents } from "./sources.js";

/** Options of {@link createFileSource}. */
export interface FileSourceOptions {
  /** The mesh file (YAML, or JSON by `.json` extension). */
  path: string;
  /**
   * How often the file is polled for changes, in ms. Default 250. Where the
   * platform notifies of changes in the file's directory (inotify, FSEvents)
   * a change is seen at once; the poll is what remains without them.
   */
  pollMs?: number;
  /**
   * How long a changed file must stay unchanged before it is read, in ms, so
   * a file seen mid-write is never applied. Default 100.
   */
  settleMs?: number;
  /** Largest file accepted, in bytes; a bigger one is refused unread. Default 8 MiB. */
  maxBytes?: number;
  /**
   * Heap a parse may use, in MB: a file that needs more is refused instead of
   * growing the pilot. Default 512.
   */
  maxParseHeapMb?: number;
}

/** A watched mesh file as a service registry and config store. */
export interface FileSource extends ServiceRegistry, ConfigStore {
  readonly path: string;
  gateways(): readonly Gateway[];
  /** The last refusal, if the current file content is broken (the previous good content is served). */
  readonly lastError: Error | undefined;
  /**
   * Reads the file now (off the main thread) and applies it, or refuses it
   * with a `rejected` event while the previous content stays served.
   */
  reload(): Promise<void>;
  /** True when the current file says `allowEmpty: true`. */
  allowsEmpty(): boolean;
  /** Stops watching. */
  close(): void;
}

function kindsOf(prev: MeshFile, next: MeshFile): ChangeKind[] {
  // Everything of a service but its endpoints (port, protocol, subsets,
  // labels, traffic policy…) is "services"; endpoints alone "endpoints".
  const kinds = serviceChanges(prev.services, next.services);
  if (JSON.stringify(prev.routes) !== JSON.stringify(next.routes)) kinds.add("routes");
  if (JSON.stringify(prev.gateways) !== JSON.stringify(next.gateways)) kinds.add("gateways");
  return [...kinds];
}

class FileSourceImpl extends EventEmitter<SourceEvents> implements FileSource {
  #current: MeshFile;
  #lastError: Error | undefined;
  #closed = false;
  #settle: NodeJS.Timeout | undefined;
  // The file (inode, size, mtime) as the pending wait saw it, and as the last good read did.
  #pendingKey: string | undefined;
  #readKey: string | undefined;
  #loading: Promise<void> | undefined;
  #again = false;
  readonly #listener: (curr: fs.Stats, prev: fs.Stats) => void;
  readonly #parser: ParseWorker;
  readonly #notices: fs.FSWatcher | undefined;

  constructor(
    readonly path: string,
    readonly options: Required<Omit<FileSourceOptions, "path">>,
  ) {
    super();
    this.#parser = new ParseWorker(options.maxParseHeapMb);
    // The first read happens before anything is served, so it may block; it
    // has the same size limit as every later one.
    const first = readMeshFile({ path, fileName: this.path, maxBytes: options.maxBytes });
    if (!first.ok) throw new XdsError("invalid_config", first.message);
    this.#current = { ...first.mesh, services: reuseUnchanged([], first.mesh.services) };
    this.#listener = (curr, prev) => {
      if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size || curr.ino !== prev.ino) this.#changed();
    };
    // Polling survives editors that replace the file instead of writing it;
    // the directory's notifications, where the platform gives them, tell of a
    // change at once instead of at the next poll.
    fs.watchFile(path, { interval: options.pollMs, persistent: false }, this.#listener);
    this.#notices = watchDirectory(path, () => this.#changed());
    // The worker reads the file once now, off the main thread, so it holds
    // the text the first edit is compared with: that edit then costs what it
    // changes, not a worker start and a whole parse. Read like any later
    // change, so an edit made since the first read is applied, not lost.
    void this.reload();
  }

  get lastError(): Error | undefined {
    return this.#lastError;
  }

  // A change is read only once the file has been quiet for settleMs: every
  // further change restarts the wait. The same change told twice (by the
  // folder's notification, then by the poll) neither restarts the wait nor,
  // once read, is read again; `force` re-reads the file as it is.
  #changed(force = false): void {
    if (this.#closed) return;
    const key = force ? undefined : statKey(statOrUndefined(this.path));
    if (key !== undefined && key === (this.#settle ? this.#pendingKey : this.#readKey)) return;
    this.#pendingKey = key;
    if (this.#settle) clearTimeout(this.#settle);
    this.#settle = setTimeout(() => {
      this.#settle = undefined;
      void this.reload();
    }, this.options.settleMs);
    this.#settle.unref();
  }

  reload(): Promise<void> {
    if (this.#loading) {
      // One read at a time; a change seen during it is read right after.
      this.#again = true;
      return this.#loading;
    }
    this.#loading = (async () => {
      do {
        this.#again = false;
        await this.#loadOnce();
      } while (this.#again && !this.#closed);
    })().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #loadOnce(): Promise<void> {
    if (this.#closed) return;
    const result = await this.#parser.parse(this.path, this.options.maxBytes);
    if (this.#closed) return;
    if (result.ok) {
      // Written to again while it was read: what was read may be half of it.
      const now = statOrUndefined(this.path);
      if (!now || now.size !== result.size || now.mtimeMs !== result.mtimeMs) {
        // The worker remembers what it read, which is not what this source holds: it starts afresh.
        this.#parser.close();
        this.#changed(true);
        return;
      }
      this.#readKey = statKey(now);
    }
    if (!result.ok) {
      this.#refuse(new XdsError("invalid_config", result.message));
      return;
    }
    // Unchanged services keep their objects (and what was computed from them):
    // after an O(change) parse the worker says which changed; otherwise each is compared.
    const current = this.#current.services;
    const patch = result.patch;
    if (patch && patch.count !== current.length) {
      // The worker patched a file this source does not hold as it thinks: read it whole.
      this.#parser.close();
      this.#changed(true);
      return;
    }
    const services = patch
      ? current.map((s, i) => {
          const fresh = patch.changed[i];
          return fresh ? (reuseUnchanged([s], [fresh])[0] as Service) : s;
        })
      : reuseUnchanged(current, result.mesh.services);
    const next = { ...result.mesh, services };
    if (next.services.length === 0 && this.#current.services.length > 0 && next.allowEmpty !== true) {
      // Refused here though the worker read it well: the worker forgets it too.
      this.#parser.close();
      this.#refuse(
        new XdsError(
          "invalid_config",
          `${path.basename(this.path)}: would remove all ${this.#current.services.length} services; say "allowEmpty: true" to mean it`,
        ),
      );
      return;
    }
    this.#lastError = undefined;
    const kinds = kindsOf(this.#current, next);
    this.#current = next;
    // Read once the file was quiet for settleMs: the controller need not wait again.
    if (kinds.length > 0)
      this.emit("change", { kinds, reason: `file ${path.basename(this.path)} changed`, settled: true });
  }

  #refuse(error: Error): void {
    this.#lastError = error;
    this.emit("rejected", { reason: `${path.basename(this.path)} rejected`, error });
  }

  services(): readonly Service[] {
    return this.#current.services;
  }

  routes(): readonly RouteRule[] {
    return this.#current.routes;
  }

  gateways(): readonly Gateway[] {
    return this.#current.gateways;
  }

  allowsEmpty(): boolean {
    return this.#current.allowEmpty === true;
  }

  close(): void {
    this.#closed = true;
    if (this.#settle) clearTimeout(this.#settle);
    fs.unwatchFile(this.path, this.#listener);
    this.#notices?.close();
    this.#parser.close();
  }
}

// Notifications for the file's name in its directory (a save by rename
// replaces the file, so the file itself is not what is watched). Without
// them (no inotify watches left, a filesystem that has none) polling alone
// serves, a poll interval later.
function watchDirectory(file: string, changed: () => void): fs.FSWatcher | undefined {
  const name = path.basename(file);
  try {
    const watcher = fs.watch(path.dirname(file), { persistent: false }, (_event, changedName) => {
      if (changedName === null || changedName === name) changed();
    });
    watcher.on("error", () => watcher.close());
    return watcher;
  } catch {
    return undefined;
  }
}

/** What tells one version of the file from another without reading it ("" when it is not there). */
function statKey(st: fs.Stats | undefined): string {
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : "";
}

function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Reads and watches a mesh file (YAML, or JSON by `.json` extension). A broken
 * first read throws; a broken later edit is refused with a `rejected` event
 * naming file, path and problem, and the last good content keeps being
 * served. An empty file, a file over `maxBytes`, and a file that would remove
 * every service without `allowEmpty: true` are refused too. Changes are read
 * once the file has settled, in a worker thread.
 */
export function createFileSource(options: FileSourceOptions): FileSource {
  const maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
  if (!(maxBytes > 0)) throw new XdsError("invalid_argument", `maxBytes must be positive, got ${options.maxBytes}`);
  return new FileSourceImpl(path.resolve(options.path), {
    pollMs: options.pollMs ?? 250,
    settleMs: options.settleMs ?? 100,
    maxBytes,
    maxParseHeapMb: options.maxParseHeapMb ?? 512,
  });
}
