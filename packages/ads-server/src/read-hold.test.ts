import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Client,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  credentials,
  type handleBidiStreamingCall,
} from "@grpc/grpc-js";
import { ReadHold } from "./read-hold.js";

const raw = (b: Buffer) => b;
const method = {
  path: "/test.Echo/Chat",
  requestStream: true,
  responseStream: true,
  requestSerialize: raw,
  requestDeserialize: raw,
  responseSerialize: raw,
  responseDeserialize: raw,
};

/** The bytes backing a Buffer (what holding a view of it keeps alive). */
const backing = (b: Buffer) => b.buffer.byteLength;

describe("read hold", () => {
  it("a handled request is no longer held by grpc-js's decoder, and later requests decode whole", async () => {
    const server = new Server();
    const seen: { holdFound: boolean; flagBacking: number; partial: number; bytes: Buffer }[] = [];
    const chat: handleBidiStreamingCall<Buffer, Buffer> = (call: ServerDuplexStream<Buffer, Buffer>) => {
      const hold = ReadHold.of(call);
      call.on("data", (msg: Buffer) => {
        hold?.release();
        const d = hold?.decoder;
        seen.push({
          holdFound: hold !== undefined,
          flagBacking: d ? backing(d.readCompressFlag) : -1,
          partial: d ? d.readPartialMessage.length : -1,
          bytes: Buffer.from(msg),
        });
        call.write(msg);
      });
      call.on("end", () => call.end());
    };
    server.addService({ Chat: method }, { Chat: chat });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const call = client.makeBidiStreamRequest(method.path, raw, raw);
      // An ACK-sized request (bigger than an HTTP/2 frame), then a small one, then a big one again.
      const sent = [Buffer.alloc(24_000, 7), Buffer.from("small"), Buffer.alloc(40_000, 9)];
      const echoed: Buffer[] = [];
      const done = new Promise<void>((resolve, reject) => {
        call.on("data", (b: Buffer) => {
          echoed.push(b);
          if (echoed.length === sent.length) resolve();
        });
        call.on("error", reject);
      });
      for (const b of sent) call.write(b);
      await done;
      call.end();
      assert.equal(seen.length, 3);
      for (const [i, s] of seen.entries()) {
        assert.equal(s.holdFound, true, "grpc-js's decoder is found where grpc-js 1.x keeps it");
        assert.deepEqual(s.bytes, sent[i], `request ${i} decodes whole after the previous one was released`);
        // Nothing of the request's chunk is held: the flag is the hold's own byte, no slices remain.
        assert.equal(s.flagBacking < 1000, true, `request ${i}: the decoder still holds ${s.flagBacking} bytes`);
        assert.equal(s.partial, 0);
      }
      assert.deepEqual(echoed, sent);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });

  it("a call without grpc-js's decoder gets no hold", () => {
    assert.equal(ReadHold.of({}), undefined);
    assert.equal(ReadHold.of({ call: { nextCall: { decoder: {} } } }), undefined);
  });
});
