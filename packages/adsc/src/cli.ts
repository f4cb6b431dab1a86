// xdskit-adsc: watch, dump, status and load against an xDS control plane.
// Exit codes: 0 done, 1 the server or the network failed, 2 bad usage.
import { Command, CommanderError } from "commander";
import { quietIpServerNameWarnings, resourceTypes } from "@xdskit/xds-types";
import { anyToJson } from "./json.js";
import { createAdsClient } from "./client.js";
import { channelCredentials } from "./credentials.js";
import {
  type Common,
  UsageError,
  node,
  parseTypes,
  positiveInt,
  reachable,
  security,
  servers,
  withCommon,
} from "./cli-common.js";
import { fetchClientStatus } from "./csds.js";
import { dumpConfig } from "./dump.js";
import { type LoadEvent, runLoad } from "./load.js";

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Whether `err` is a terminal (progress bars only then). */
  readonly interactive: boolean;
}

const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  interactive: Boolean(process.stderr.isTTY),
};

function pct(sorted: readonly number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

/** Builds the program; `io` receives every line it prints. */
export function buildProgram(io: CliIo = processIo): Command {
  const program = new Command("xdskit-adsc")
    .description("An ADS client for xDS control planes: watch updates, dump a node's config, read CSDS, generate load.")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();

  withCommon(program.command("watch"))
    .description("subscribe and print every update (a table, or JSON lines with --json)")
    .option("-t, --type <types>", "types to watch: cds,eds,lds,rds,… or type URLs", "lds,cds")
    .option("--names <names>", "comma-separated resource names (default: wildcard)")
    .option("--json", "one JSON object per update")
    .option("--count <n>", "exit after this many updates", positiveInt("--count"))
    .option("--timeout <ms>", "give up (exit 1) after this long", positiveInt("--timeout"))
    .action(async (o: Common & { type: string; names?: string; json?: boolean; count?: number; timeout?: number }) => {
      const types = parseTypes(o.type);
      const names = o.names
        ? o.names
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
        : [];
      await reachable(o);
      const client = createAdsClient({
        target: servers(o),
        node: node(o),
        security: security(o),
        protocol: o.delta ? "delta" : "sotw",
      });
      let seen = 0;
      await new Promise<void>((resolve, reject) => {
        const timer = o.timeout
          ? setTimeout(() => {
              client.close();
              reject(
                new Error(`watch: ${seen} update(s) within ${o.timeout} ms${o.count ? `, wanted ${o.count}` : ""}`),
              );
            }, o.timeout)
          : undefined;
        const stop = () => {
          if (timer) clearTimeout(timer);
          client.close();
          resolve();
        };
        process.once("SIGINT", stop);
        client.on("disconnected", (e) => {
          if (e.retryInMs !== undefined)
            io.err(`stream ended (${e.details || e.code}); reconnecting in ${e.retryInMs} ms\n`);
        });
        client.on("nack", (e) => io.err(`NACK ${e.typeUrl} ${e.version}: ${e.message}\n`));
        client.on("update", (u) => {
          seen++;
          const short = resourceTypes.get(u.typeUrl)?.shortName ?? u.typeUrl;
          if (o.json) {
            io.out(
              `${JSON.stringify({ time: new Date().toISOString(), type: short, typeUrl: u.typeUrl, version: u.version, upserted: u.upserted, removed: u.removed })}\n`,
            );
          } else {
            const changes = [...u.upserted.map((n) => `+${n}`), ...u.removed.map((n) => `-${n}`)].join(" ");
            io.out(
              `${new Date().toISOString().slice(11, 23)}  ${short.padEnd(5)} ${u.version.padEnd(18)} ${changes}\n`,
            );
          }
          if (o.count && seen >= o.count) {
            process.off("SIGINT", stop);
            stop();
          }
        });
        for (const t of types) client.subscribe(t, resourceTypes.get(t)?.fullState && names.length === 0 ? [] : names);
      });
    });

  withCommon(program.command("dump"))
    .description("print a node's whole configuration (listeners, routes, clusters, endpoints) as JSON")
    .option("--timeout <ms>", "wait this long for the first responses", positiveInt("--timeout"), 10_000)
    .action(async (o: Common & { timeout: number }) => {
      await reachable(o);
      const dump = await dumpConfig({
        target: servers(o),
        node: node(o),
        security: security(o),
        protocol: o.delta ? "delta" : "sotw",
        timeoutMs: o.timeout,
      });
      io.out(`${JSON.stringify(dump, null, 2)}\n`);
      if (dump.unknownTypes.length > 0)
        io.err(
          `note: ${dump.unknownTypes.length} type(s) this client cannot decode are shown as type URL and base64 bytes: ${dump.unknownTypes.join(", ")}\n`,
        );
    });

  withCommon(program.command("status"))
    .description("show the server's CSDS view of its clients (ACKed, NACKed, requested, missing)")
    .option("--of <nodeId>", "only this client node id")
    .option("--contents", "also show each resource's content (as proto3 JSON)")
    .option(
      "--json",
      "one JSON document: a list of clients {node, scope, resources: [{typeUrl, name, version, status, error?, content?}]}",
    )
    .action(async (o: Common & { of?: string; json?: boolean; contents?: boolean }) => {
      await reachable(o);
      const res = await fetchClientStatus(servers(o)[0] ?? o.server, {
        security: security(o),
        excludeResourceContents: !o.contents,
        ...(o.of ? { nodeId: o.of } : {}),
      });
      const content = (g: (typeof res.config)[number]["genericXdsConfigs"][number]) =>
        o.contents && g.xdsConfig ? anyToJson(g.xdsConfig) : undefined;
      const statusNames = ["UNKNOWN", "REQUESTED", "DOES_NOT_EXIST", "ACKED", "NACKED", "RECEIVED_ERROR", "TIMEOUT"];
      if (o.json) {
        const rows = res.config.map((c) => ({
          node: c.node?.id ?? "",
          scope: c.clientScope,
          resources: c.genericXdsConfigs.map((g) => ({
            typeUrl: g.typeUrl,
            name: g.name,
            version: g.versionInfo,
            status: statusNames[g.clientStatus] ?? String(g.clientStatus),
            ...(g.errorState ? { error: g.errorState.details } : {}),
            ...(content(g) !== undefined ? { content: content(g) } : {}),
          })),
        }));
        io.out(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (res.config.length === 0) {
        io.out(o.of ? `no client with node id "${o.of}" is connected\n` : "no clients are connected\n");
        return;
      }
      for (const c of res.config) {
        io.out(`${c.node?.id ?? "(no node)"}  scope=${c.clientScope}\n`);
        for (const g of c.genericXdsConfigs) {
          const short = resourceTypes.get(g.typeUrl)?.shortName ?? g.typeUrl;
          const state = statusNames[g.clientStatus] ?? String(g.clientStatus);
          const err = g.errorState ? `  error: ${g.errorState.details}` : "";
          io.out(`  ${short.padEnd(5)} ${g.name.padEnd(40)} ${state.padEnd(15)} ${g.versionInfo}${err}\n`);
          const c = content(g);
          if (c !== undefined) io.out(`${JSON.stringify(c, null, 2).replace(/^/gm, "        ")}\n`);
        }
      }
    });

  withCommon(program.command("load"))
    .description("open N streams from this process and report time to full config and throughput")
    .option("--streams <n>", "number of streams", positiveInt("--streams"), 100)
    .option("--per-channel <n>", "streams per HTTP/2 connection", positiveInt("--per-channel"), 100)
    .option("-t, --type <types>", "types each stream subscribes to (wildcard)", "cds,lds")
    .option("--timeout <ms>", "give up (exit 1) after this long", positiveInt("--timeout"), 60_000)
    .option("--json", "print the result as one JSON object")
    .action(
      async (o: Common & { streams: number; perChannel: number; type: string; timeout: number; json?: boolean }) => {
        const types = parseTypes(o.type);
        await reachable(o);
        if (!("insecure" in security(o))) {
          throw new UsageError("load runs plaintext only; drop --tls/--ca/--cert/--key");
        }
        const started = performance.now();
        let bar: NodeJS.Timeout | undefined;
        const result = await new Promise<Extract<LoadEvent, { ev: "done" }>>((resolve, reject) => {
          const running = runLoad(
            {
              target: servers(o)[0] ?? o.server,
              streams: o.streams,
              streamsPerChannel: o.perChannel,
              subscriptions: Object.fromEntries(types.map((t) => [t, []])),
              protocol: o.delta ? "delta" : "sotw",
              nodePrefix: o.node,
              credentials: channelCredentials({ insecure: true }),
            },
            (e) => {
              if (e.ev === "done") {
                running.stop();
                resolve(e);
              } else if (e.ev === "error") {
                running.stop();
                reject(new Error(e.message));
              }
            },
          );
          const timer = setTimeout(() => {
            running.stop();
            const p = running.progress();
            reject(new Error(`load: ${p.complete} of ${o.streams} streams had a full config after ${o.timeout} ms`));
          }, o.timeout);
          timer.unref();
          if (io.interactive) {
            bar = setInterval(() => {
              const p = running.progress();
              const width = 30;
              const filled = Math.round((p.complete / o.streams) * width);
              io.err(
                `\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${p.complete}/${o.streams} streams, ${p.responses} responses`,
              );
            }, 250);
          }
        }).finally(() => {
          if (bar) {
            clearInterval(bar);
            io.err("\n");
          }
        });
        const seconds = (performance.now() - started) / 1000;
        const sorted = [...result.fullConfigMs].sort((a, b) => a - b);
        const summary = {
          streams: result.streams,
          types: types.map((t) => resourceTypes.get(t)?.shortName ?? t),
          fullConfigMs: { p50: pct(sorted, 50), p99: pct(sorted, 99), max: sorted[sorted.length - 1] ?? Number.NaN },
          responses: result.responses,
          bytes: result.bytes,
          seconds,
          responsesPerSecond: result.responses / seconds,
          megabytesPerSecond: result.bytes / 1e6 / seconds,
        };
        if (o.json) io.out(`${JSON.stringify(summary)}\n`);
        else {
          io.out(
            `${summary.streams} streams (${summary.types.join(", ")}${o.delta ? ", Delta" : ""}): time to full config p50 ${summary.fullConfigMs.p50.toFixed(1)} ms, p99 ${summary.fullConfigMs.p99.toFixed(1)} ms, max ${summary.fullConfigMs.max.toFixed(1)} ms\n`,
          );
          io.out(
            `${summary.responses} responses, ${(summary.bytes / 1e6).toFixed(2)} MB in ${seconds.toFixed(2)} s: ${summary.responsesPerSecond.toFixed(0)} responses/s, ${summary.megabytesPerSecond.toFixed(1)} MB/s\n`,
          );
        }
      },
    );

  return program;
}

/** Runs the CLI on `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  quietIpServerNameWarnings();
  const program = buildProgram(io);
  if (argv.length === 0) {
    io.err(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not failures; anything else commander rejects is usage.
      return err.code === "commander.helpDisplayed" || err.code === "commander.version" ? 0 : 2;
    }
    if (err instanceof UsageError) {
      io.err(`xdskit-adsc: ${err.message}\n`);
      return 2;
    }
    io.err(`xdskit-adsc: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
