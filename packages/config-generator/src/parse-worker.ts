// One worker thread that parses mesh files for a file source, kept between
// reads: starting a worker loads the parser and the model's checks anew (tens
// of milliseconds of CPU), which a one-line edit should not pay. It is
// bounded by a heap limit, replaced after it fails or runs out of memory,
// and let go after a quiet while, so an idle source holds no second heap.
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { ParseRequest, ParseResult } from "./mesh-parse-worker.js";

// The worker runs the built JavaScript. Under a TypeScript loader (the test
// runner runs the sources) the sibling `dist/` holds it.
function workerUrl(): URL {
  const here = import.meta.url;
  return here.endsWith(".ts") ? new URL("../dist/mesh-parse-worker.js", here) : new URL("./mesh-parse-worker.js", here);
}

/** A parse worker kept between reads (see the module comment). */
export class ParseWorker {
  #worker: Worker | undefined;
  #idle: NodeJS.Timeout | undefined;
  #next = 1;
  readonly #waiting = new Map<number, (r: ParseResult) => void>();

  constructor(
    readonly maxHeapMb: number,
    /** How long an idle worker is kept, ms. */
    readonly keepMs = 120_000,
  ) {}

  #spawn(fileName: string): Worker {
    const worker = new Worker(workerUrl(), {
      resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb, maxYoungGenerationSizeMb: 32 },
      stdout: true,
      stderr: true,
    });
    worker.unref();
    worker.on("message", (r: ParseResult & { id: number }) => {
      const done = this.#waiting.get(r.id);
      this.#waiting.delete(r.id);
      done?.(r);
    });
    // A failed worker answers everyone waiting and is dropped; the next read starts another.
    const fail = (message: string) => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const done of this.#waiting.values()) done({ ok: false, message });
      this.#waiting.clear();
    };
    worker.on("error", (err: Error & { code?: string }) =>
      fail(
        err.code === "ERR_WORKER_OUT_OF_MEMORY"
          ? `${fileName}: parsing needs more than ${this.maxHeapMb} MB of memory; refused`
          : `${fileName}: cannot parse: ${err.message}`,
      ),
    );
    worker.on("exit", () => fail(`${fileName}: the parser stopped before answering`));
    return worker;
  }

  /** Reads and parses `file` in the worker. Never throws. */
  parse(file: string, maxBytes: number): Promise<ParseResult> {
    const fileName = path.basename(file);
    if (this.#idle) clearTimeout(this.#idle);
    this.#worker ??= this.#spawn(fileName);
    const worker = this.#worker;
    const id = this.#next++;
    return new Promise<ParseResult>((resolve) => {
      this.#waiting.set(id, resolve);
      worker.postMessage({ id, path: file, fileName, maxBytes } satisfies ParseRequest & { id: number });
    }).finally(() => {
      if (this.#waiting.size > 0) return;
      this.#idle = setTimeout(() => this.close(), this.keepMs);
      this.#idle.unref();
    });
  }

  /** Stops the worker (a later read starts another). */
  close(): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = undefined;
    const w = this.#worker;
    this.#worker = undefined;
    if (w) void w.terminate();
  }
}
