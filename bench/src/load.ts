import { type ChildProcess, fork } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { IpcEvent as LoadEvent, LoadPlan } from "./load-client.js";

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "load-client.js");

/** A running load client process. */
export interface LoadClient {
  /** Resolves on the next event of the given kind; rejects on an error event, on exit, or after `timeoutMs`. */
  next<E extends LoadEvent["ev"]>(ev: E, timeoutMs: number): Promise<Extract<LoadEvent, { ev: E }>>;
  /** Starts timing the next response of every stream; resolves once the client is ready for it. */
  mark(timeoutMs: number): Promise<void>;
  /** Drops and reopens every stream, each resuming with what it holds (the plan needs `trackHeld`). */
  reconnect(timeoutMs: number): Promise<void>;
  /** Responses and bytes received so far. */
  progress(timeoutMs: number): Promise<{ responses: number; bytes: number }>;
  stop(): Promise<void>;
}

/** Forks the load client and starts its plan. */
export function startLoad(plan: LoadPlan): LoadClient {
  const child: ChildProcess = fork(script, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const queue: LoadEvent[] = [];
  const waiters: (() => void)[] = [];
  let exited = false;
  child.on("message", (m: LoadEvent) => {
    queue.push(m);
    for (const w of waiters.splice(0)) w();
  });
  child.on("exit", () => {
    exited = true;
    for (const w of waiters.splice(0)) w();
  });
  child.send({ cmd: "run", plan });
  return {
    async next(ev, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const err = queue.find((e) => e.ev === "error");
        if (err && err.ev === "error") throw new Error(`load client: ${err.message}`);
        const i = queue.findIndex((e) => e.ev === ev);
        if (i >= 0) return queue.splice(i, 1)[0] as never;
        if (exited) throw new Error("load client exited");
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`load client: no "${ev}" within ${timeoutMs} ms`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    },
    async mark(timeoutMs) {
      child.send({ cmd: "mark" });
      await this.next("markSet", timeoutMs);
    },
    async reconnect(timeoutMs) {
      child.send({ cmd: "reconnect" });
      await this.next("reconnected", timeoutMs);
    },
    async progress(timeoutMs) {
      child.send({ cmd: "progress" });
      const p = await this.next("progress", timeoutMs);
      return { responses: p.responses, bytes: p.bytes };
    },
    async stop() {
      if (exited) return;
      child.send({ cmd: "stop" });
      await new Promise((r) => (exited ? r(undefined) : child.once("exit", r)));
    },
  };
}
