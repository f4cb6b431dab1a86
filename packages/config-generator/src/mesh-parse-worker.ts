// Reads and parses a mesh file off the main thread, so a big or hostile file
// cannot stall the ADS streams or the admin port while it is parsed.
import fs from "node:fs";
import { parentPort } from "node:worker_threads";
import { XdsError } from "@xdskit/xds-types";
import { parseMeshFile } from "./mesh-file.js";
import type { Service } from "./model.js";
import { IncrementalMeshParser } from "./mesh-incremental.js";

/** A request to the worker. */
export interface ParseRequest {
  readonly path: string;
  readonly fileName: string;
  readonly maxBytes: number;
}

/** The worker's answer: the file's stat when read, and its content or the problem. */
export type ParseResult =
  | {
      readonly ok: true;
      readonly mesh: ReturnType<typeof parseMeshFile>;
      readonly size: number;
      readonly mtimeMs: number;
      /**
       * Parsed in O(change): `mesh.services` is left empty and only the
       * services that changed are sent, by index; the others (of `count`) are
       * as in the last answer.
       */
      readonly patch?: { readonly count: number; readonly changed: Readonly<Record<number, Service>> };
    }
  | { readonly ok: false; readonly message: string };

/** Reads and parses one file, bounded by `maxBytes`, with `parser` when given (see mesh-incremental.ts); never throws. */
export function readMeshFile(req: ParseRequest, parser?: IncrementalMeshParser): ParseResult {
  try {
    const fd = fs.openSync(req.path, "r");
    try {
      const st = fs.fstatSync(fd);
      if (st.size > req.maxBytes) {
        return {
          ok: false,
          message: `${req.fileName}: the file is ${st.size} bytes; the limit is ${req.maxBytes} (maxBytes, --max-config-bytes)`,
        };
      }
      const buf = Buffer.alloc(st.size);
      let off = 0;
      while (off < st.size) {
        const n = fs.readSync(fd, buf, off, st.size - off, off);
        if (n === 0) break;
        off += n;
      }
      if (off !== st.size) return { ok: false, message: `${req.fileName}: the file changed while it was read` };
      const text = buf.toString("utf8");
      const mesh = parser ? parser.parse(text, req.fileName) : parseMeshFile(text, req.fileName);
      const changed = parser?.lastKind === "incremental" ? parser.changed : undefined;
      if (changed)
        return {
          ok: true,
          mesh: { ...mesh, services: [] },
          size: st.size,
          mtimeMs: st.mtimeMs,
          patch: {
            count: mesh.services.length,
            changed: Object.fromEntries(changed.map((i) => [i, mesh.services[i] as Service])),
          },
        };
      return { ok: true, mesh, size: st.size, mtimeMs: st.mtimeMs };
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if (err instanceof XdsError) return { ok: false, message: err.message };
    return { ok: false, message: `${req.fileName}: cannot read: ${err instanceof Error ? err.message : String(err)}` };
  }
}

// Kept between reads (see parse-worker.ts): one answer per request, by id;
// a file's last text is remembered, so an edit is parsed in O(change).
const parsers = new Map<string, IncrementalMeshParser>();
parentPort?.on("message", (req: ParseRequest & { id: number }) => {
  let parser = parsers.get(req.path);
  if (!parser) {
    parsers.clear();
    parser = new IncrementalMeshParser();
    parsers.set(req.path, parser);
  }
  parentPort?.postMessage({ id: req.id, ...readMeshFile(req, parser) });
});
