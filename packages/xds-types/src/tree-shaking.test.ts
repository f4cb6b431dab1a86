import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist");

// Counts the modules a fresh Node process loads for one import, using a
// resolve hook, so the test sees what a host really pays at start-up.
function modulesLoadedBy(entry: string): string[] {
  const hooks = `export async function resolve(s, c, n) { const r = await n(s, c); if (r.url.startsWith("file:")) process.stdout.write(r.url + "\\n"); return r; }`;
  const script = `
    import { register } from "node:module";
    register("data:text/javascript," + encodeURIComponent(${JSON.stringify(hooks)}));
    await import(${JSON.stringify(entry)});
  `;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  return out.split("\n").filter((l) => l.includes("/xds-types/dist/"));
}

describe("tree-shaking", () => {
  it("importing TypeUrl loads no generated code", () => {
    const loaded = modulesLoadedBy(path.join(dist, "type-url.js"));
    assert.deepEqual(
      loaded.filter((u) => u.includes("/gen/")),
      [],
    );
    assert.equal(loaded.length, 1);
  });

  it("the main entry loads far fewer files than the full registry", () => {
    const main = modulesLoadedBy(path.join(dist, "index.js"));
    const full = modulesLoadedBy(path.join(dist, "registry.js"));
    assert.ok(full.length > 400, `full registry loaded only ${full.length} modules`);
    assert.ok(main.length < full.length / 2, `main entry loaded ${main.length} of ${full.length} modules`);
  });
});
