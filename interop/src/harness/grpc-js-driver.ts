// A real proxyless grpc-js client (and xDS-enabled server) driven by JSON
// lines, speaking the grpc-go driver's protocol (interop/grpc-go-client) so
// tests run one scenario against either. GRPC_XDS_BOOTSTRAP names the
// bootstrap; DRIVER_XDS_CREDS=1 uses xDS credentials (TLS as the control
// plane says, plaintext fallback).
//
// Requests, one per stdin line:
//   {id, target, count, deadlineMs, budgetMs, metadata?, concurrency?, staggerMs?}  calls
//   {id, serve: {port, host?, name}}                                   an XdsServer
// Answers: {id, answers: {backend: n}, codes: {CODE: n}, errors, errorCount,
// notAttempted, p50Ms, maxMs} for calls; {id, serving: true} or {id, error} for serve.
// SIGUSR2 writes the batches in flight and each channel's state to stderr
// (the harness asks for it when a batch does not answer in time).
import { createRequire } from "node:module";
import readline from "node:readline";
import * as grpc from "@grpc/grpc-js";
import { DRIVER_ECHO_PATH, rawMethod } from "./backends.js";

const xds = createRequire(import.meta.url)("@grpc/grpc-js-xds") as typeof import("@grpc/grpc-js-xds");
xds.register();

const raw = (b: Buffer) => b;
const useXdsCreds = process.env.DRIVER_XDS_CREDS === "1";
const channelCreds = () =>
  useXdsCreds ? new xds.XdsChannelCredentials(grpc.credentials.createInsecure()) : grpc.credentials.createInsecure();

interface CallRequest {
  id: number;
  target: string;
  count?: number;
  deadlineMs?: number;
  budgetMs?: number;
  metadata?: Record<string, string>;
  concurrency?: number;
  /** Concurrent workers start this far apart (ms), so each sees the others' calls in flight. */
  staggerMs?: number;
}
interface ServeRequest {
  id: number;
  serve: { port: number; host?: string; name: string };
}

const clients = new Map<string, grpc.Client>();
function clientFor(target: string): grpc.Client {
  let c = clients.get(target);
  if (!c) {
    c = new grpc.Client(target, channelCreds());
    clients.set(target, c);
  }
  return c;
}

let closing = false;

function callOnce(client: grpc.Client, deadlineMs: number, md: Record<string, string>) {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) metadata.set(k, v);
  const started = performance.now();
  return new Promise<{ ok?: string; code?: number; details?: string; ms: number }>((resolve) => {
    if (closing) {
      // stdin closed while a batch ran: its client is shut down and would throw.
      resolve({ code: grpc.status.CANCELLED, details: "the driver is stopping", ms: 0 });
      return;
    }
    client.makeUnaryRequest(
      DRIVER_ECHO_PATH,
      raw,
      raw,
      Buffer.from("hello"),
      metadata,
      { deadline: Date.now() + deadlineMs },
      (err, value) => {
        const ms = performance.now() - started;
        if (err) resolve({ code: err.code ?? grpc.status.UNKNOWN, details: err.details ?? err.message, ms });
        else resolve({ ok: String(value), ms });
      },
    );
  });
}

/** Batches in flight, for the SIGUSR2 report: what each is and how far it got. */
const inFlight = new Map<number, { req: CallRequest; since: number; started: () => number }>();

process.on("SIGUSR2", () => {
  const now = Date.now();
  const batches = [...inFlight.values()].map((b) => ({
    id: b.req.id,
    target: b.req.target,
    count: b.req.count,
    callsStarted: b.started(),
    runningMs: now - b.since,
  }));
  const channels = [...clients].map(([target, c]) => ({
    target,
    state: grpc.connectivityState[c.getChannel().getConnectivityState(false)],
  }));
  process.stderr.write(`[grpc-js driver on SIGUSR2] ${JSON.stringify({ batches, channels })}\n`);
});

async function calls(req: CallRequest) {
  const count = req.count ?? 1;
  const budget = req.budgetMs ?? 10_000;
  const end = Date.now() + budget;
  const client = clientFor(req.target);
  const answers: Record<string, number> = {};
  const codes: Record<string, number> = {};
  const errors: string[] = [];
  const latencies: number[] = [];
  let started = 0;
  let failed = 0;
  const worker = async (i: number) => {
    if (req.staggerMs) await new Promise((r) => setTimeout(r, i * (req.staggerMs ?? 0)));
    while (started < count && Date.now() < end) {
      started++;
      const deadline = Math.max(1, Math.min(req.deadlineMs ?? 3000, end - Date.now()));
      const r = await callOnce(client, deadline, req.metadata ?? {});
      latencies.push(r.ms);
      if (r.ok !== undefined) {
        answers[r.ok] = (answers[r.ok] ?? 0) + 1;
        codes.OK = (codes.OK ?? 0) + 1;
      } else {
        failed++;
        const code = r.code ?? grpc.status.UNKNOWN;
        const name = grpc.status[code] ?? String(code);
        codes[name] = (codes[name] ?? 0) + 1;
        if (errors.length < 3) errors.push(`${name}: ${r.details}`);
      }
    }
  };
  inFlight.set(req.id, { req, since: Date.now(), started: () => started });
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(req.concurrency ?? 1, 64)) }, (_x, i) => worker(i)));
  } finally {
    inFlight.delete(req.id);
  }
  const notAttempted = count - started;
  if (notAttempted > 0) errors.push(`${notAttempted} calls not attempted within ${budget} ms`);
  latencies.sort((a, b) => a - b);
  return {
    id: req.id,
    answers,
    codes,
    errors,
    errorCount: failed + notAttempted,
    notAttempted,
    p50Ms: Math.round(latencies[Math.floor(latencies.length / 2)] ?? 0),
    maxMs: Math.round(latencies[latencies.length - 1] ?? 0),
  };
}

const servers: grpc.Server[] = [];
function serve(req: ServeRequest) {
  const { port, host = "127.0.0.1", name } = req.serve;
  const server = new xds.XdsServer();
  server.addService(
    { Say: rawMethod(DRIVER_ECHO_PATH) },
    { Say: (_c: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(name)) },
  );
  servers.push(server);
  const creds = useXdsCreds
    ? new xds.XdsServerCredentials(grpc.ServerCredentials.createInsecure())
    : grpc.ServerCredentials.createInsecure();
  return new Promise<object>((resolve) => {
    // XdsServer answers once the control plane sent its listener.
    server.bindAsync(`${host}:${port}`, creds, (err) =>
      resolve(err ? { id: req.id, error: err.message } : { id: req.id, serving: true }),
    );
  });
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  let req: CallRequest | ServeRequest;
  try {
    req = JSON.parse(line);
  } catch {
    return; // not a request
  }
  const answer = "serve" in req ? await serve(req) : await calls(req);
  process.stdout.write(`${JSON.stringify(answer)}\n`);
});
lines.on("close", () => {
  closing = true;
  for (const c of clients.values()) c.close();
  for (const s of servers) s.forceShutdown();
  setTimeout(() => process.exit(0), 100).unref();
});
