// What mTLS costs: the handshake of each new stream (every stream on its own
// connection, a small world), and a full fan-out with mTLS against the same
// fan-out in plaintext, in the same run. Needs the openssl CLI for the test
// certificates.
import { spawnSync } from "node:child_process";
import { createTestPki } from "@xdskit/ads-server/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { startServerProcess } from "../child.js";
import { type Figure, type Scenario, figure } from "../figure.js";
import { startLoad } from "../load.js";
import { processTarget, push } from "./fanout.js";

const ORDER = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration];

function subscriptionsFor(services: number) {
  const names = Array.from({ length: services }, (_, i) => `svc-${i}`);
  return {
    [TypeUrl.Cluster]: [],
    [TypeUrl.ClusterLoadAssignment]: names,
    [TypeUrl.Listener]: [],
    [TypeUrl.RouteConfiguration]: names,
  };
}

const scenario: Scenario = {
  name: "tls",
  description: "mTLS vs plaintext: the handshake cost of a new stream, and a 1,000-stream fan-out",
  async run(ctx) {
    if (spawnSync("openssl", ["version"], { stdio: "ignore" }).status !== 0) {
      ctx.log("tls: the openssl CLI is not on PATH; the mTLS figures need it for their certificates");
      return [];
    }
    const pki = createTestPki();
    try {
      const ca = pki.ca("bench-ca");
      const server = pki.server(ca, "bench-server");
      const client = pki.client(ca, "bench-client", ["spiffe://cluster.local/ns/bench/sa/load"]);
      const tls = { cert: server.cert, key: server.key, clientCa: ca.cert };
      const clientFiles = { ca: ca.cert, cert: client.cert, key: client.key };
      const timeout = ctx.quick ? 60_000 : 180_000;

      // Handshakes: every stream on a connection of its own.
      const small = 20;
      const connections = ctx.quick ? 30 : 300;
      const run = async (withTls: boolean, services: number, endpoints: number, streams: number, perChannel: number) =>
        push(
          await processTarget(
            "registry-server",
            { services, endpoints, ...(withTls ? { tls } : {}) },
            ORDER.length,
            timeout,
          ),
          streams,
          subscriptionsFor(services),
          timeout,
          perChannel,
          withTls ? clientFiles : undefined,
        );
      // New streams to a server that already holds the world: timed from the
      // first connection, so every handshake is inside the figure.
      const connect = async (withTls: boolean) => {
        const server = await startServerProcess("registry-server", {
          services: small,
          endpoints: 1,
          ...(withTls ? { tls } : {}),
        });
        try {
          await server.request("set");
          const t0 = performance.now();
          const load = startLoad({
            target: `127.0.0.1:${server.port}`,
            streams: connections,
            streamsPerChannel: 1,
            subscriptions: subscriptionsFor(small),
            ...(withTls ? { tlsFiles: clientFiles } : {}),
          });
          try {
            await load.next("done", timeout);
            return { ms: performance.now() - t0 };
          } finally {
            await load.stop();
          }
        } finally {
          await server.stop();
        }
      };
      ctx.log(`tls: ${connections} streams on their own connections, plaintext and mTLS`);
      const plainNew = await connect(false);
      const tlsNew = await connect(true);
      const services = ctx.quick ? 200 : 1000;
      const streams = ctx.quick ? 100 : 1000;
      ctx.log(`tls: fan-out to ${streams} streams, plaintext and mTLS`);
      const plainFan = await run(false, services, 10, streams, 100);
      const tlsFan = await run(true, services, 10, streams, 100);
      const figures: Figure[] = [
        figure({
          scenario: "tls",
          metric: `${connections} new streams, each on its own connection, to full config (mTLS handshake each)`,
          params: { connections, services: small },
          value: tlsNew.ms,
          unit: "ms",
          baseline: { name: "the same in plaintext", value: plainNew.ms },
        }),
        figure({
          scenario: "tls",
          metric: "mTLS cost per new stream (handshake and encryption)",
          params: { connections },
          value: Math.max(0, (tlsNew.ms - plainNew.ms) / connections),
          unit: "ms",
        }),
        figure({
          scenario: "tls",
          metric: "fan-out of a 1,000-service world with mTLS",
          params: { streams, services, streamsPerConnection: 100 },
          value: tlsFan.ms,
          unit: "ms",
          baseline: { name: "the same fan-out in plaintext", value: plainFan.ms },
        }),
        figure({
          scenario: "tls",
          metric: "server peak RSS of the fan-out with mTLS",
          params: { streams, services },
          value: tlsFan.peakRss,
          unit: "bytes",
          baseline: { name: "in plaintext", value: plainFan.peakRss },
        }),
      ];
      return figures;
    } finally {
      pki.remove();
    }
  },
};

export default scenario;
