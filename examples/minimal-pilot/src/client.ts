// Calls a service through xds:/// with @grpc/grpc-js-xds and prints which backend answered.
// Run: node examples/minimal-pilot/dist/client.js --xds 127.0.0.1:15010 --target xds:///echo --count 5
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { callEcho } from "./echo.js";

const { values } = parseArgs({
  options: {
    xds: { type: "string", default: "127.0.0.1:15010" },
    target: { type: "string", default: "xds:///echo" },
    count: { type: "string", default: "5" },
    node: { type: "string", default: `demo-client-${process.pid}` },
    "interval-ms": { type: "string", default: "200" },
  },
});

process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
  xds_servers: [{ server_uri: values.xds, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] }],
  node: { id: values.node, cluster: "demo", locality: { region: "local", zone: "a" } },
});
createRequire(import.meta.url)("@grpc/grpc-js-xds").register();

const target = values.target ?? "xds:///echo";
const count = Number(values.count);
const channel = new grpc.Client(target, grpc.credentials.createInsecure());
let failures = 0;
for (let i = 1; i <= count; i++) {
  try {
    console.log(`call ${i}: ${await callEcho(channel)}`);
  } catch (err) {
    failures++;
    const e = err as grpc.ServiceError;
    console.log(
      `call ${i}: failed: ${e.code !== undefined ? `${grpc.status[e.code]}: ` : ""}${e.details ?? e.message}`,
    );
  }
  if (i < count) await new Promise((r) => setTimeout(r, Number(values["interval-ms"])));
}
channel.close();
process.exit(failures === count ? 1 : 0);
