import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { createAdsServer } from "./server.js";
import { useListenBacklog } from "./listen-backlog.js";
import { createSnapshotRegistry } from "@xdskit/snapshot";

type Factory = { createHttp2Server: (c: unknown) => { listen: (a: unknown, ...r: unknown[]) => unknown } };

describe("listen backlog", () => {
  it("every address grpc-js binds listens with the backlog asked for, and serves", async () => {
    const server = new Server();
    // What grpc-js's own listen call receives, under the backlog wrapper.
    const seen: unknown[] = [];
    const host = server as unknown as Factory;
    const original = host.createHttp2Server;
    host.createHttp2Server = (c) => {
      const http2 = original.call(server, c);
      const listen = http2.listen.bind(http2);
      http2.listen = (address, ...rest) => {
        seen.push(address);
        return listen(address, ...rest);
      };
      return http2;
    };
    assert.equal(useListenBacklog(server, 1234), true);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    try {
      assert.equal(seen.length, 1);
      assert.equal((seen[0] as { backlog?: number }).backlog, 1234);
      assert.equal((seen[0] as { port?: number }).port, 0);
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(port, "127.0.0.1", () => {
          s.destroy();
          resolve();
        });
        s.on("error", reject);
      });
    } finally {
      server.forceShutdown();
    }
  });

  it("a server without grpc-js's factory keeps Node's backlog and says so", () => {
    assert.equal(useListenBacklog({} as unknown as Server, 100), false);
  });

  it("createAdsServer refuses a backlog that is not positive", async () => {
    const ads = createAdsServer({ registry: createSnapshotRegistry(), listenBacklog: 0 });
    await assert.rejects(ads.listen("127.0.0.1:0"), /listenBacklog must be positive, got 0/);
  });
});
