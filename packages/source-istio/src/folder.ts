// Istio objects from a folder of YAML (or JSON) files, as istiod's
// --configDir reads them: every file, several documents each, watched. A
// file that cannot be parsed refuses what it holds and keeps the objects it
// held before; a file removed takes its objects with it.
import fs from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { IstioStore, type IstioStoreOptions, type SourceDocument } from "./store.js";

/** Options of {@link createIstioFolderSource}. */
export interface IstioFolderOptions extends IstioStoreOptions {
  /** The folder (read with its subfolders; names starting with `.` are skipped). */
  readonly dir: string;
  /** How often files are checked for changes, ms. Default 500. */
  readonly pollMs?: number;
  /**
   * Where the platform tells of changes in the folder (inotify on Linux), the
   * files are checked this long after the last notice instead of at the next
   * poll, ms: long enough for a writer to finish. Default 100.
   */
  readonly settleMs?: number;
  /** Largest file read, bytes. Default 4 MiB. */
  readonly maxFileBytes?: number;
  /** Most documents read across the folder; the rest are refused. Default 20,000. */
  readonly maxObjects?: number;
}

/** A watched folder of Istio objects: the store, kept in sync with the files. */
export interface IstioFolderSource extends IstioStore {
  readonly dir: string;
  /** Reads changed files now (the poll does this by itself). */
  rescan(): void;
  /** Stops watching. */
  close(): void;
}

const FILE = /\.(ya?ml|json)$/i;

function listFiles(dir: string, out: string[] = []): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name.startsWith(".")) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) listFiles(full, out);
    else if (e.isFile() && FILE.test(e.name)) out.push(full);
  }
  return out;
}

class IstioFolder extends IstioStore implements IstioFolderSource {
  readonly dir: string;
  readonly #stamps = new Map<string, string>();
  readonly #timer: NodeJS.Timeout;
  #notices: fs.FSWatcher | undefined;
  #settle: NodeJS.Timeout | undefined;
  readonly #maxBytes: number;
  readonly #maxObjects: number;

  constructor(options: IstioFolderOptions) {
    super(options);
    this.dir = path.resolve(options.dir);
    if (!fs.existsSync(this.dir) || !fs.statSync(this.dir).isDirectory())
      throw new Error(`the Istio config folder ${this.dir} does not exist or is not a folder`);
    this.#maxBytes = options.maxFileBytes ?? 4 * 1024 * 1024;
    this.#maxObjects = options.maxObjects ?? 20_000;
    this.rescan();
    this.#timer = setInterval(() => this.rescan(), options.pollMs ?? 500);
    this.#timer.unref();
    // Notices are a shortcut; the poll stays, for platforms and file systems without them.
    const settleMs = options.settleMs ?? 100;
    try {
      this.#notices = fs.watch(this.dir, { persistent: false, recursive: true }, () => {
        if (this.#settle) clearTimeout(this.#settle);
        this.#settle = setTimeout(() => {
          this.#settle = undefined;
          this.rescan();
        }, settleMs);
        this.#settle.unref();
      });
      this.#notices.on("error", () => this.#notices?.close());
    } catch {
      this.#notices = undefined;
    }
  }

  rescan(): void {
    const files = listFiles(this.dir);
    const present = new Set(files.map((f) => path.relative(this.dir, f)));
    for (const name of [...this.#stamps.keys()])
      if (!present.has(name)) {
        this.#stamps.delete(name);
        this.replaceSource(name, []);
      }
    let objects = 0;
    for (const file of files) {
      const name = path.relative(this.dir, file);
      let stamp: string;
      try {
        const st = fs.statSync(file);
        stamp = `${st.size}:${st.mtimeMs}`;
      } catch {
        continue;
      }
      if (this.#stamps.get(name) === stamp) continue;
      this.#stamps.set(name, stamp);
      this.replaceSource(
        name,
        this.#read(file, name, () => objects++),
      );
    }
  }

  // The documents of one file; a file that cannot be read is one unreadable document.
  #read(file: string, name: string, count: () => number): SourceDocument[] {
    const unreadable = (problem: string): SourceDocument[] => [{ origin: { source: name }, problem }];
    let text: string;
    try {
      const size = fs.statSync(file).size;
      if (size > this.#maxBytes)
        return unreadable(`the file is ${size} bytes; the limit is ${this.#maxBytes} (maxFileBytes)`);
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      return unreadable(`cannot read: ${err instanceof Error ? err.message : String(err)}`);
    }
    const docs = parseAllDocuments(text, { prettyErrors: true });
    const list = Array.isArray(docs) ? docs : [docs];
    // A file that does not parse is refused whole: its documents may have shifted.
    const broken = list.findIndex((d) => d.errors.length > 0);
    if (broken >= 0)
      return unreadable(`document ${broken + 1}: not valid YAML: ${list[broken]?.errors[0]?.message ?? "?"}`);
    const out: SourceDocument[] = [];
    list.forEach((d, i) => {
      const origin = { source: name, document: i };
      const value = d.toJS({ maxAliasCount: 100 }) as unknown;
      if (value === null || value === undefined) return;
      // A Kubernetes List holds its objects in `items`.
      const items =
        value && typeof value === "object" && (value as { kind?: unknown }).kind === "List"
          ? ((value as { items?: unknown[] }).items ?? [])
          : [value];
      for (const item of items) {
        if (count() >= this.#maxObjects) {
          out.push({
            origin,
            problem: `more than ${this.#maxObjects} objects in the folder (maxObjects); the rest are not read`,
          });
          return;
        }
        out.push({ doc: item, origin });
      }
    });
    return out;
  }

  close(): void {
    clearInterval(this.#timer);
    if (this.#settle) clearTimeout(this.#settle);
    this.#notices?.close();
  }
}

/** Reads and watches a folder of Istio objects (see the module comment). */
export function createIstioFolderSource(options: IstioFolderOptions): IstioFolderSource {
  return new IstioFolder(options);
}
