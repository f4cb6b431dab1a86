import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { canonicalResourceName, inGlobCollection, isGlobCollection, parseXdstpName } from "./xdstp.js";

const L = "xdstp://auth.example/envoy.config.listener.v3.Listener";

describe("xdstp:// names", () => {
  it("parses authority, type, id and sorted context parameters", () => {
    assert.deepEqual(parseXdstpName(`${L}/a/b?z=1&a=2`), {
      authority: "auth.example",
      resourceType: "envoy.config.listener.v3.Listener",
      id: "a/b",
      params: [
        ["a", "2"],
        ["z", "1"],
      ],
    });
    assert.equal(parseXdstpName("listener-0"), undefined);
    assert.equal(parseXdstpName("xdstp://only-authority"), undefined);
    assert.equal(parseXdstpName("xdstp://a/type-without-id"), undefined);
  });

  it("canonicalizes context parameter order and leaves other names alone", () => {
    assert.equal(canonicalResourceName(`${L}/x?b=2&a=1`), `${L}/x?a=1&b=2`);
    assert.equal(canonicalResourceName(`${L}/x`), `${L}/x`);
    assert.equal(canonicalResourceName("plain?b=2&a=1"), "plain?b=2&a=1");
    assert.equal(canonicalResourceName("xdstp://broken"), "xdstp://broken");
  });

  it("matches glob collection members directly under the path with equal parameters", () => {
    assert.ok(isGlobCollection(`${L}/pool/*`));
    assert.ok(isGlobCollection(`xdstp:///envoy.config.listener.v3.Listener/*`));
    assert.ok(!isGlobCollection(`${L}/pool/x`));
    assert.ok(!isGlobCollection("*"));
    assert.ok(inGlobCollection(`${L}/pool/*`, `${L}/pool/x`));
    assert.ok(inGlobCollection(`${L}/pool/*?a=1`, `${L}/pool/x?a=1`));
    assert.ok(!inGlobCollection(`${L}/pool/*?a=1`, `${L}/pool/x?a=2`));
    assert.ok(!inGlobCollection(`${L}/pool/*`, `${L}/pool/deeper/x`));
    assert.ok(!inGlobCollection(`${L}/pool/*`, `${L}/other/x`));
    assert.ok(!inGlobCollection(`${L}/pool/*`, "xdstp://other/envoy.config.listener.v3.Listener/pool/x"));
    assert.ok(!inGlobCollection(`${L}/pool/*`, "pool/x"));
  });
});
