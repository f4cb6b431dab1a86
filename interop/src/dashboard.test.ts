// The live dashboard in a real headless browser (Debian's chromium driven by
// playwright-core): it loads, shows a connected client with its per-type sync
// state, and changes when a push or a NACK happens. A screenshot is kept in
// .tmp/dashboard.png.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type AdsClient, createAdsClient } from "@xdskit/adsc";
import { TypeUrl } from "@xdskit/xds-types";
import { type Browser, type Page, chromium } from "playwright-core";
import { type Backend, grpcBackend } from "./harness/backends.js";
import { type Pilot, startPilot } from "./harness/pilot.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SHOT = path.join(ROOT, ".tmp/dashboard.png");

function browserPath(): string {
  for (const p of [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    if (p && fs.existsSync(p)) return p;
  }
  throw new Error(
    "the dashboard test needs Chromium: set CHROMIUM_PATH, or install it (Debian: apt-get install -y chromium)",
  );
}

describe("the live dashboard in a real browser", () => {
  let backends: Backend[] = [];
  let pilot: Pilot;
  let browser: Browser;
  let page: Page;
  const clients: AdsClient[] = [];
  const mesh = (n: number) =>
    `services:\n  - name: echo\n    protocol: grpc\n    endpoints:\n${backends
      .slice(0, n)
      .map((b) => `      - { address: 127.0.0.1, port: ${b.port} }`)
      .join("\n")}\n`;

  before(async () => {
    backends = [await grpcBackend("b1"), await grpcBackend("b2")];
    pilot = await startPilot(mesh(1));
    browser = await chromium.launch({
      executablePath: browserPath(),
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  });

  after(async () => {
    for (const c of clients) c.close();
    await browser?.close();
    await pilot?.stop();
    for (const b of backends) await b.stop();
  });

  it("loads, shows a connected client's sync state, and follows pushes and NACKs", async (t) => {
    await page.goto(`http://127.0.0.1:${pilot.adminPort}/ui`);
    await page.getByText("no client connected").waitFor({ timeout: 10_000 });

    const good = createAdsClient({
      target: `127.0.0.1:${pilot.xdsPort}`,
      node: { id: "dash-client", cluster: "dash" },
    });
    clients.push(good);
    good.subscribe(TypeUrl.Cluster);
    good.subscribe(TypeUrl.Listener);
    await good.synced(10_000);
    const row = page.locator("tr.client", { hasText: "dash-client" });
    await row.getByText("CDS SYNCED").waitFor({ timeout: 10_000 });
    await row.getByText("LDS SYNCED").waitFor({ timeout: 10_000 });

    const pushesBefore = Number(await page.locator("#pushes").textContent());
    pilot.writeMesh(mesh(2));
    // Evaluated in the page.
    await page.waitForFunction(`Number(document.getElementById("pushes").textContent) > ${pushesBefore}`, undefined, {
      timeout: 10_000,
    });

    const picky = createAdsClient({
      target: `127.0.0.1:${pilot.xdsPort}`,
      node: { id: "picky-client", cluster: "dash" },
      validate: (u) => (u.typeUrl === TypeUrl.Listener ? "listeners refused for the dashboard test" : undefined),
    });
    clients.push(picky);
    picky.subscribe(TypeUrl.Listener);
    const pickyRow = page.locator("tr.client", { hasText: "picky-client" });
    await pickyRow.getByText("LDS NACKED").waitFor({ timeout: 10_000 });
    await pickyRow.getByText("listeners refused for the dashboard test").waitFor();
    await page.locator("#nack-list").getByText("listeners refused for the dashboard test").waitFor();
    assert.ok(Number(await page.locator("#nacks").textContent()) >= 1);

    await row.click();
    await page.locator("#config").getByText("outbound|").first().waitFor({ timeout: 10_000 });
    assert.equal(await page.locator("#config-node").textContent(), "dash-client");

    fs.mkdirSync(path.dirname(SHOT), { recursive: true });
    await page.screenshot({ path: SHOT, fullPage: true });
    t.diagnostic(`screenshot: ${SHOT}`);
    assert.equal(await page.locator("#error").textContent(), "", "the page reported no error");
  });
});
