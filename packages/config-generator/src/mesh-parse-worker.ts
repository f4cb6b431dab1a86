// Reads and parses a mesh file off the main thread, so a big or hostile file
// cannot stall the ADS streams or the admin port while it is parsed.
import fs from "node:fs";
import { parentPort } from "node:worker_threads";
import { XdsError } from "@xdskit/xds-types";
import { parseMeshFile } from "./mesh-file.js";

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
    }
  | { readonly ok: false; readonly message: string };

/** Reads and parses one file, bounded by `maxBytes`; never throws. */
export function readMeshFile(req: ParseRequest): ParseResult {
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
      return { ok: true, mesh: parseMeshFile(buf.toString("utf8"), req.fileName), size: st.size, mtimeMs: st.mtimeMs };
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if (err instanceof XdsError) return { ok: false, message: err.message };
    return { ok: false, message: `${req.fileName}: cannot read: ${err instanceof Error ? err.message : String(err)}` };
  }
}

parentPort?.once("message", (req: ParseRequest) => {
  parentPort?.postMessage(readMeshFile(req));
});
