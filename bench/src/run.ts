// The benchmark runner: `npm run bench [-- --quick] [-- --only NAME]`.
// Prints a table for people and one JSON line per figure for machines, and
// writes the JSON lines to bench/results/<timestamp>.jsonl.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { tuneLikePilot } from "./child.js";
import type { Figure, Scenario } from "./figure.js";
import { extraScenarios, scenarios } from "./scenarios/index.js";

function formatValue(v: number, unit: string): string {
  if (unit === "bytes" || unit.startsWith("bytes/")) {
    return v >= 1 << 20
      ? `${(v / (1 << 20)).toFixed(1)} MiB`
      : v >= 1024
        ? `${(v / 1024).toFixed(1)} KiB`
        : `${v.toFixed(0)} B`;
  }
  return `${v < 10 ? v.toFixed(3) : v.toFixed(1)} ${unit}`;
}

function table(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [
    f.scenario,
    f.metric,
    Object.entries(f.params)
      .map(([k, v]) => `${k}=${v}`)
      .join(" "),
    formatValue(f.value, f.unit),
    f.baseline ? `${formatValue(f.baseline.value, f.unit)} (${f.baseline.name})` : "",
    f.ratio !== undefined ? `${f.ratio.toFixed(2)}x` : "",
    f.target ?? "",
  ]);
  const head = ["scenario", "figure", "params", "xdskit", "baseline", "ratio", "target"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** Runs the selected scenarios and returns every figure; failures are reported and make the exit code non-zero. */
export async function runBench(options: { quick: boolean; only?: string; log?: (m: string) => void }): Promise<{
  figures: Figure[];
  failed: string[];
}> {
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const selected: Scenario[] = options.only
    ? [...scenarios, ...extraScenarios].filter((s) => s.name === options.only)
    : [...scenarios];
  if (selected.length === 0) {
    const all = [...scenarios, ...extraScenarios].map((s) => s.name).join(", ");
    throw new Error(`no scenario named "${options.only}"; expected one of: ${all}`);
  }
  const figures: Figure[] = [];
  const failed: string[] = [];
  for (const s of selected) {
    log(`bench: ${s.name} — ${s.description}${options.quick ? " (quick)" : ""}`);
    try {
      figures.push(...(await s.run({ quick: options.quick, log })));
    } catch (err) {
      failed.push(s.name);
      log(`bench: ${s.name} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
  return { figures, failed };
}

async function main(): Promise<void> {
  // Scenarios that serve in this process (churn) run as minimal-pilot does,
  // beside their floors in the same process.
  tuneLikePilot();
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(
      `usage: npm run bench [-- --quick] [-- --only NAME]\nscenarios: ${scenarios.map((s) => s.name).join(", ")}\nonly when named: ${extraScenarios.map((s) => s.name).join(", ")} (kubernetes needs bash scripts/ensure-kube.sh; istiod needs XDSKIT_BENCH_ISTIOD=/path/to/pilot-discovery)`,
    );
    return;
  }
  const { figures, failed } = await runBench({
    quick: values.quick ?? false,
    ...(values.only ? { only: values.only } : {}),
  });
  console.log(`\n${table(figures)}\n`);
  const lines = figures.map((f) => JSON.stringify(f));
  for (const l of lines) console.log(l);
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../results");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`);
  fs.writeFileSync(file, lines.join("\n") + (lines.length ? "\n" : ""));
  console.log(`\nbench: ${figures.length} figures written to ${path.relative(process.cwd(), file)}`);
  if (failed.length > 0) {
    console.error(`bench: failed scenarios: ${failed.join(", ")}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
