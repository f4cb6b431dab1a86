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
  /** Every stream repeats its last ACK of `typeUrl` `times` times; resolves once all are written. */
  replay(typeUrl: string, times: number, timeoutMs: number): Promise<{ acks: number; bytes: number }>;
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
    async replay(typeUrl, times, timeoutMs) {
      child.send({ cmd: "replay", typeUrl, times });
      const r = await this.next("replayed", timeoutMs);
      return { acks: r.acks, bytes: r.bytes };
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

/**
 * The plan's streams spread over `processes` load clients (stream n of the
 * whole is stream n − from of its share; node ids follow), behind one
 * {@link LoadClient}: events are merged once every share has sent its own.
 * One process cannot drive ten thousand clients' decoding and ACKs alone.
 */
export function startLoads(plan: LoadPlan, processes: number): LoadClient {
  if (processes <= 1) return startLoad(plan);
  const shares: LoadClient[] = [];
  for (let p = 0; p < processes; p++) {
    const from = Math.floor((p * plan.streams) / processes);
    const to = Math.floor(((p + 1) * plan.streams) / processes);
    if (to <= from) continue;
    const ids = plan.node?.ids?.slice(from, to);
    shares.push(
      startLoad({
        ...plan,
        streams: to - from,
        ...(plan.node ? { node: { ...plan.node, ...(ids ? { ids } : {}) } } : {}),
      }),
    );
  }
  const all = <T>(f: (c: LoadClient) => Promise<T>) => Promise.all(shares.map(f));
  return {
    async next(ev, timeoutMs) {
      const got = await all((c) => c.next(ev, timeoutMs));
      return merge(ev, got) as never;
    },
    async mark(timeoutMs) {
      await all((c) => c.mark(timeoutMs));
    },
    async reconnect(timeoutMs) {
      await all((c) => c.reconnect(timeoutMs));
    },
    async replay(typeUrl, times, timeoutMs) {
      const got = await all((c) => c.replay(typeUrl, times, timeoutMs));
      return { acks: got.reduce((a, g) => a + g.acks, 0), bytes: got.reduce((a, g) => a + g.bytes, 0) };
    },
    async progress(timeoutMs) {
      const got = await all((c) => c.progress(timeoutMs));
      return { responses: got.reduce((a, g) => a + g.responses, 0), bytes: got.reduce((a, g) => a + g.bytes, 0) };
    },
    async stop() {
      await all((c) => c.stop());
    },
  };
}

// One event of every share as the event of the whole load.
function merge(ev: LoadEvent["ev"], got: readonly LoadEvent[]): LoadEvent {
  const sum = (f: (e: LoadEvent) => number) => got.reduce((a, e) => a + f(e), 0);
  const num = (e: LoadEvent, k: string) => (e as unknown as Record<string, number>)[k] ?? 0;
  const list = (k: string) => got.flatMap((e) => (e as unknown as Record<string, number[]>)[k] ?? []);
  switch (ev) {
    case "done":
      return {
        ev,
        streams: sum((e) => num(e, "streams")),
        responses: sum((e) => num(e, "responses")),
        bytes: sum((e) => num(e, "bytes")),
        fullConfigMs: list("fullConfigMs"),
        reopened: sum((e) => num(e, "reopened")),
        // The busiest process: the one that bounds the full-config time.
        loadCpuMs: Math.max(...got.map((e) => num(e, "loadCpuMs"))),
      };
    case "marked":
      return { ev, arrivals: list("arrivals"), bytes: sum((e) => num(e, "bytes")) };
    case "subscribed":
    case "reconnected":
      return { ev, streams: sum((e) => num(e, "streams")) } as LoadEvent;
    default:
      return got[0] as LoadEvent;
  }
}
