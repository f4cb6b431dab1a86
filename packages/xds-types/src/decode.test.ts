import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toBinary } from "@bufbuild/protobuf";
import { XdsError, decodeResource, encodeResource, findResourceType } from "./index.js";
import { TypeUrl } from "./type-url.js";
import { samples } from "./round-trip.test.js";

describe("decodeResource", () => {
  it("decodes what encodeResource wrote", () => {
    const bytes = encodeResource(TypeUrl.Cluster, samples[TypeUrl.Cluster]!);
    const back = decodeResource(TypeUrl.Cluster, bytes);
    assert.equal(back.$typeName, "envoy.config.cluster.v3.Cluster");
  });

  it("raises decode_failed naming the type for truncated bytes", () => {
    for (const url of Object.values(TypeUrl)) {
      const type = findResourceType(url)!;
      const bytes = toBinary(type.schema, samples[url]!);
      const truncated = bytes.subarray(0, bytes.length - 3);
      assert.throws(
        () => decodeResource(url, truncated),
        (err: unknown) =>
          err instanceof XdsError && err.code === "decode_failed" && err.message.includes(type.schema.typeName),
        `truncated ${type.shortName} was accepted`,
      );
    }
  });

  it("raises decode_failed for garbage bytes", () => {
    const garbage = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x07, 0x13]);
    assert.throws(
      () => decodeResource(TypeUrl.Listener, garbage),
      (err: unknown) => err instanceof XdsError && err.code === "decode_failed" && /Listener/.test(err.message),
    );
  });

  it("raises unknown_type_url for a type outside the table", () => {
    assert.throws(
      () => decodeResource("type.googleapis.com/acme.Widget", new Uint8Array()),
      (err: unknown) =>
        err instanceof XdsError && err.code === "unknown_type_url" && err.message.includes("acme.Widget"),
    );
  });

  it("refuses to encode a message under another type's URL", () => {
    assert.throws(
      () => encodeResource(TypeUrl.Listener, samples[TypeUrl.Cluster]!),
      (err: unknown) => err instanceof XdsError && err.code === "type_mismatch",
    );
  });
});

describe("node metadata", () => {
  it("a google.protobuf.Struct message literal is refused with what to write instead", async () => {
    const { isStructLiteral } = await import("./metadata.js");
    const assertJsonMetadata: (m: unknown) => void = (await import("./metadata.js")).assertJsonMetadata;
    const struct = { fields: { NAMESPACE: { kind: { case: "stringValue", value: "default" } } } };
    assert.equal(isStructLiteral(struct), true);
    assert.equal(isStructLiteral({ NAMESPACE: "default" }), false);
    assert.equal(isStructLiteral({ fields: { a: 1 } }), false, "plain JSON that happens to have a key named fields");
    assert.throws(
      () => assertJsonMetadata(struct),
      /takes plain JSON \(\{ NAMESPACE: "default" \}\), but got a google\.protobuf\.Struct message/,
    );
    assert.throws(() => assertJsonMetadata(["a"]), /must be a JSON object, got a list/);
    assertJsonMetadata({ NAMESPACE: "default" });
  });
});
