// The load client: a separate process (forked by the bench) that runs the
// adsc load generator, so the server under test does not share a CPU-bound
// event loop with its clients. Controlled over IPC; exits on its own after a
// hard time limit.
import { type LoadEvent, type LoadPlan, type RunningLoad, runLoad } from "@xdskit/adsc";

export type { LoadEvent, LoadPlan } from "@xdskit/adsc";

/** Events only the IPC wrapper sends; its "done" also carries this process's CPU since the plan started. */
export type IpcEvent =
  | Exclude<LoadEvent, { ev: "done" }>
  | (Extract<LoadEvent, { ev: "done" }> & { loadCpuMs?: number })
  | { ev: "markSet" }
  | { ev: "progress"; responses: number; bytes: number };

const HARD_LIMIT_MS = 300_000;

function send(e: IpcEvent): void {
  process.send?.(e);
}

if (process.send) {
  let running: RunningLoad | undefined;
  const limit = setTimeout(() => process.exit(3), HARD_LIMIT_MS);
  process.on(
    "message",
    (
      m:
        | { cmd: "run"; plan: LoadPlan }
        | { cmd: "mark" }
        | { cmd: "reconnect" }
        | { cmd: "progress" }
        | { cmd: "replay"; typeUrl: string; times: number }
        | { cmd: "stop" },
    ) => {
      if (m.cmd === "run") {
        const cpu0 = process.cpuUsage();
        // What reading the full config cost this process: a floor for any server's full-config time.
        const cpuSince = () => {
          const c = process.cpuUsage(cpu0);
          return (c.user + c.system) / 1000;
        };
        try {
          running = runLoad(m.plan, (e) => send(e.ev === "done" ? { ...e, loadCpuMs: cpuSince() } : e));
        } catch (err) {
          send({ ev: "error", message: String(err) });
        }
      } else if (m.cmd === "reconnect") {
        try {
          running?.reconnect();
        } catch (err) {
          send({ ev: "error", message: String(err) });
        }
      } else if (m.cmd === "replay") {
        try {
          running?.replay(m.typeUrl, m.times);
        } catch (err) {
          send({ ev: "error", message: String(err) });
        }
      } else if (m.cmd === "progress") {
        const p = running?.progress() ?? { responses: 0, bytes: 0 };
        send({ ev: "progress", responses: p.responses, bytes: p.bytes });
      } else if (m.cmd === "mark") {
        running?.mark();
        send({ ev: "markSet" });
      } else {
        running?.stop();
        clearTimeout(limit);
        setTimeout(() => process.exit(0), 50);
      }
    },
  );
  process.on("disconnect", () => process.exit(0));
}
