// The example mesh the README points at stays valid: minimal-pilot serves it,
// and xdskit-mesh loads it into a real etcd, from which a pilot serves the same.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { etcdMissing, startTestEtcd, type TestEtcd } from "@xdskit/source-etcd/testing";
import { type PilotProcess, startPilot } from "./pilot-process.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const EXAMPLE = path.resolve(here, "../mesh.yaml");
const ISTIO_EXAMPLE = path.resolve(here, "../istio");
const MESH_BIN = path.resolve(here, "../../../packages/source-etcd/bin/xdskit-mesh.js");

interface MeshPage {
  services: { name: string }[];
  routes: { host: string }[];
  lastError: string | null;
  source?: { istioConfig?: { objects: Record<string, number>; refused: unknown[] } };
  refused: string[];
}

describe("the example mesh file", () => {
  const pilots: PilotProcess[] = [];
  let etcd: TestEtcd | undefined;

  after(async () => {
    for (const p of pilots) await p.kill();
    await etcd?.remove();
  });

  const served = async (p: PilotProcess) => (await (await p.admin("/debug/mesh")).json()) as MeshPage;

  it("is served as written, from the file and from etcd", async () => {
    const fromFile = await startPilot(["--config", EXAMPLE]);
    pilots.push(fromFile);
    const file = await served(fromFile);
    assert.equal(file.lastError, null);
    assert.deepEqual(
      file.services.map((s) => s.name),
      ["echo", "echo-v2"],
    );
    assert.deepEqual(
      file.routes.map((r) => r.host),
      ["echo"],
    );

    const missing = etcdMissing();
    if (missing) throw new Error(missing);
    etcd = await startTestEtcd();
    const put = spawnSync(process.execPath, [MESH_BIN, "put", "--etcd", etcd.url, EXAMPLE], { encoding: "utf8" });
    assert.equal(put.status, 0, put.stderr);
    const fromEtcd = await startPilot(["--etcd", etcd.url]);
    pilots.push(fromEtcd);
    const stored = await served(fromEtcd);
    assert.deepEqual(stored.services, file.services, "the same services, field for field");
    assert.deepEqual(stored.routes, file.routes);
  });

  it("the example Istio folder is served without a refusal", async () => {
    const p = await startPilot(["--istio-config", ISTIO_EXAMPLE]);
    pilots.push(p);
    const page = await served(p);
    assert.deepEqual(page.refused, []);
    assert.deepEqual(page.source?.istioConfig, {
      objects: { ServiceEntry: 1, DestinationRule: 1, VirtualService: 1 },
      refused: [],
    });
    assert.deepEqual(
      page.services.map((s) => s.name),
      ["echo.default.svc.cluster.local"],
    );
    assert.deepEqual(
      page.routes.map((r) => r.host),
      ["echo.default.svc.cluster.local", "echo.default.svc.cluster.local"],
    );
  });
});
