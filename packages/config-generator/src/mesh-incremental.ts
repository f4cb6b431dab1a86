// Parsing a mesh file in O(change). YAML parsing costs about 80 ms per
// 150 KB, so a one-line edit of a 1,000-service file would pay for all of it.
// Instead the parser keeps the last text it read and where each service of
// the top-level `services` list lies in it; a new text whose only difference
// is inside one service is parsed as that one service, and the rest is the
// last parse's. Anything else — an edit across services or outside the list,
// aliases, flow style, JSON, a service whose new text is not self-contained —
// is parsed in full. Either way the whole mesh is checked as parseMeshFile
// checks it, so both paths give the same mesh or the same refusal.
import { isMap, isSeq, parseDocument, visit } from "yaml";
import { type MeshFile, meshFromData, parseMeshFile } from "./mesh-file.js";

interface Last {
  readonly text: string;
  readonly data: Record<string, unknown> & { services: unknown[] };
  /** Where each service lies in `text` (the service's map, not its `- `); undefined: no incremental parse from here. */
  readonly spans: readonly (readonly [number, number])[] | undefined;
  /** The service this step re-parsed. */
  readonly index: number;
}

/** How the last parse went, for tests and benchmarks. */
export type ParseKind = "full" | "incremental";

/** A mesh-file parser that remembers its last text (see the module comment). */
export class IncrementalMeshParser {
  #last: Last | undefined;
  readonly #checked = new WeakSet<object>();
  /** How the last successful parse went. */
  lastKind: ParseKind = "full";
  /** With an incremental parse: the indices of the services that changed (the rest are as last time). */
  changed: readonly number[] | undefined;

  /** Parses and checks a mesh file's text; throws as `parseMeshFile` does. */
  parse(text: string, fileName: string): MeshFile {
    if (fileName.endsWith(".json") || text.trim() === "") {
      this.#last = undefined;
      return parseMeshFile(text, fileName);
    }
    const step = this.#last ? this.#incremental(this.#last, text) : undefined;
    if (step) {
      const mesh = meshFromData(step.data, fileName, this.#checked);
      this.changed = step === this.#last ? [] : [step.index];
      this.#last = step;
      this.lastKind = "incremental";
      return mesh;
    }
    const doc = parseDocument(text);
    // Errors and checks as parseMeshFile reports them.
    if (doc.errors.length > 0) return parseMeshFile(text, fileName);
    const data = doc.toJS() as unknown;
    const mesh = meshFromData(data, fileName, this.#checked);
    this.#last = { text, data: data as Last["data"], spans: spansOf(doc), index: -1 };
    this.lastKind = "full";
    this.changed = undefined;
    return mesh;
  }

  #incremental(last: Last, text: string): Last | undefined {
    const spans = last.spans;
    if (!spans || spans.length === 0) return undefined;
    const old = last.text;
    if (old === text) return last;
    // The common end first, then the common start: an insertion then lands at
    // the end of the line it continues (inside its service), not after the
    // indentation of the next one.
    const max = Math.min(old.length, text.length);
    let q = 0;
    while (q < max && old.charCodeAt(old.length - 1 - q) === text.charCodeAt(text.length - 1 - q)) q++;
    let p = 0;
    while (p < max - q && old.charCodeAt(p) === text.charCodeAt(p)) p++;
    const oldEnd = old.length - q;
    const delta = text.length - old.length;
    const i = spans.findIndex(([s, e]) => s <= p && oldEnd <= e);
    if (i < 0) return undefined;
    const [s, e] = spans[i] as readonly [number, number];
    const end = e + delta;
    const item = text.slice(s, end);
    const col = s - (text.lastIndexOf("\n", s - 1) + 1);
    // Self-contained: every further line of the service is indented at least as its first key.
    for (const line of item.split("\n").slice(1)) {
      const body = line.trimStart();
      if (body === "" || body.startsWith("#")) continue;
      if (line.length - body.length < col) return undefined;
    }
    const doc = parseDocument(" ".repeat(col) + item);
    if (doc.errors.length > 0 || !isMap(doc.contents)) return undefined;
    if (hasAlias(doc)) return undefined;
    const services = [...last.data.services];
    services[i] = doc.toJS() as unknown;
    return {
      text,
      index: i,
      data: { ...last.data, services },
      spans: spans.map(([a, b], j): readonly [number, number] =>
        j < i ? [a, b] : j === i ? [s, end] : [a + delta, b + delta],
      ),
    };
  }
}

// The spans of the top-level `services` items, when every one is a block map and the file has no alias.
function spansOf(doc: ReturnType<typeof parseDocument>): Last["spans"] {
  if (hasAlias(doc) || !isMap(doc.contents)) return undefined;
  const seq = doc.get("services", true);
  if (!isSeq(seq) || seq.flow) return undefined;
  const spans: [number, number][] = [];
  for (const item of seq.items) {
    if (!isMap(item) || item.flow || !item.range) return undefined;
    spans.push([item.range[0], item.range[1]]);
  }
  return spans;
}

function hasAlias(doc: ReturnType<typeof parseDocument>): boolean {
  let found = false;
  visit(doc, {
    Alias: () => {
      found = true;
      return visit.BREAK;
    },
  });
  return found;
}
