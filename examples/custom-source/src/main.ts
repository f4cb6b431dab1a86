// An xdskit control plane of your own, in one file: services come from an
// HTTP inventory (InventorySource), a builder of yours adds per-service
// policy (InventoryGenerator), and real xDS clients are served over ADS.
//   npm run build && node examples/custom-source/dist/main.js [--port N --admin-port N --inventory URL]
import { parseArgs } from "node:util";
import { startAdminServer } from "@xdskit/admin";
import { createAdsServer } from "@xdskit/ads-server";
import { createDiscoveryController } from "@xdskit/config-generator";
import { startBackend } from "./backend.js";
import { InventoryGenerator } from "./generator.js";
import { startInventory } from "./inventory.js";
import { InventorySource } from "./inventory-source.js";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "15020" },
      "admin-port": { type: "string", default: "15024" },
      inventory: { type: "string" },
    },
  });
  let inventoryUrl = values.inventory;
  if (!inventoryUrl) {
    // The demo's own inventory, with two backends behind "hello".
    const ports = [(await startBackend("hello-1")).port, (await startBackend("hello-2")).port];
    const inventory = await startInventory([
      {
        name: "hello",
        protocol: "grpc",
        metadata: { maxRequests: 100 },
        endpoints: [{ address: "127.0.0.1", port: ports[0] as number }],
      },
    ]);
    inventoryUrl = inventory.url;
    console.log(`inventory listening on ${inventory.url} (spare backend hello-2 on port ${ports[1]})`);
  }
  const source = new InventorySource(inventoryUrl);
  await source.poll();
  const controller = createDiscoveryController({ services: source, generator: new InventoryGenerator() });
  controller.on("sourceRejected", (e) =>
    console.error(`inventory refused, keeping the last good list: ${e.error.message}`),
  );
  controller.on("push", (e) => console.log(`push: ${e.reasons.join("; ")} → ${e.types.join(",")}`));
  const ads = createAdsServer({ registry: controller.registry });
  const xdsPort = await ads.listen(`127.0.0.1:${values.port}`);
  const admin = await startAdminServer({ ads, controller, port: Number(values["admin-port"]) });
  console.log(`xds listening on 127.0.0.1:${xdsPort}`);
  console.log(`admin listening on 127.0.0.1:${admin.port}`);
  const stop = async () => {
    source.close();
    controller.close();
    await ads.shutdown(1000);
    await admin.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
}

main().catch((err: unknown) => {
  console.error(`custom-source: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
