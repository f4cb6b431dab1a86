// The etcd source against a real etcd (Debian's etcd-server; see README):
// list and watch, a key's change as a change of just that kind, bad values
// refused with key and path while the rest updates, references across keys,
// losing etcd (and a compacted revision) without losing config.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Service, SourceChange } from "@xdskit/config-generator";
import { Etcd3 } from "etcd3";
import { createEtcdSource, type EtcdSource } from "./source.js";
import { etcdMissing, startTcpProxy, startTestEtcd, type TcpProxy, type TestEtcd } from "./testing/index.js";

const P = "/mesh/";
const svc = (name: string, port: number, extra: Partial<Service> = {}): string =>
  JSON.stringify({ name, endpoints: [{ address: "10.0.0.1", port }], ...extra });

async function until<T>(what: string, fn: () => T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("etcd source (real etcd)", () => {
  let etcd: TestEtcd;
  let client: Etcd3;
  const sources: EtcdSource[] = [];
  const proxies: TcpProxy[] = [];

  const watch = (s: EtcdSource) => {
    const changes: SourceChange[] = [];
    const rejected: string[] = [];
    s.on("change", (c) => changes.push(c));
    s.on("rejected", (e) => rejected.push(`${e.reason}: ${e.error.message}`));
    return { changes, rejected };
  };
  const open = (url: string, prefix = P, limits: { maxKeys?: number; maxValueBytes?: number } = {}) => {
    const s = createEtcdSource({ endpoints: [url], prefix, retryMs: 50, maxRetryMs: 500, ...limits });
    sources.push(s);
    return s;
  };

  before(async () => {
    const missing = etcdMissing();
    if (missing) throw new Error(missing);
    etcd = await startTestEtcd();
    client = new Etcd3({ hosts: etcd.url });
  });

  after(async () => {
    for (const s of sources) await s.close();
    for (const p of proxies) await p.close();
    client?.close();
    await etcd?.remove();
  });

  it("lists, then turns each key's change into a change of just its kind", async () => {
    await client.put(`${P}services/echo`).value(svc("echo", 8080));
    await client.put(`${P}services/db`).value(svc("db", 5432, { protocol: "tcp" }));
    await client
      .put(`${P}routes/echo`)
      .value(JSON.stringify([{ host: "echo", split: [{ service: "echo", weight: 1 }] }]));
    await client.put("/mesh-old/services/ghost").value(svc("ghost", 1));
    const s = open(etcd.url);
    const seen = watch(s);
    assert.equal(s.ready(), false);
    await s.whenReady(10_000);
    assert.deepEqual(
      s.services().map((x) => x.name),
      ["db", "echo"],
      "only keys under the prefix, in key order",
    );
    assert.equal(s.routes().length, 1);
    await client
      .put(`${P}services/echo`)
      .value(svc("echo", 8080, { endpoints: [{ address: "10.0.0.2", port: 8080 }] }));
    const ep = await until("the endpoint change", () => seen.changes.find((c) => c.reason.includes("services/echo")));
    assert.deepEqual(ep.kinds, ["endpoints"], "an endpoint change is EDS-only");
    await client.put(`${P}services/echo`).value(svc("echo", 8080, { loadBalancer: { policy: "ring-hash" } }));
    await until("the policy change", () => (seen.changes.at(-1)?.kinds.includes("services") ? true : undefined));
    await client.delete().key(`${P}services/db`);
    await until("the deletion", () => (s.services().length === 1 ? true : undefined));
    assert.deepEqual(seen.rejected, []);
    assert.ok(s.status().revision > 0);
  });

  it("refuses a bad value with its key and path, keeps its last good value, and goes on with other keys", async () => {
    // Put before the source starts, so both are in its list (one watch
    // response could carry a's good and bad values together).
    await client.put("/bad/services/a").value(svc("a", 80));
    await client.put("/bad/services/b").value(svc("b", 81));
    const s = open(etcd.url, "/bad/");
    const seen = watch(s);
    await s.whenReady();
    await client
      .put("/bad/services/a")
      .value(JSON.stringify({ name: "a", endpoints: [{ address: "10.0.0.1", port: 70000 }] }));
    const why = await until("the refusal", () => seen.rejected[0]);
    assert.match(why, /\/bad\/services\/a rejected; its last good value stays/);
    assert.match(
      why,
      /key \/bad\/services\/a\.endpoints\[0\]\.port: port must be a whole number from 1 to 65535, got 70000/,
    );
    assert.equal(s.services().find((x) => x.name === "a")?.endpoints[0]?.port, 80, "the last good value stays");
    await client.put("/bad/services/b").value(svc("b", 82));
    await until("b to keep updating", () =>
      s.services().find((x) => x.name === "b")?.endpoints[0]?.port === 82 ? true : undefined,
    );
    await client.put("/bad/services/c").value("name: [unclosed");
    await until("YAML errors named", () => seen.rejected.find((r) => /services\/c.*not valid YAML or JSON/.test(r)));
    await client.put("/bad/services/d").value(svc("not-d", 80));
    await until("a name mismatch", () =>
      seen.rejected.find((r) => /the key names service "d" but the value is "not-d"/.test(r)),
    );
    assert.deepEqual(
      s
        .status()
        .rejected.map((r) => r.key)
        .sort(),
      ["/bad/services/a", "/bad/services/c", "/bad/services/d"],
    );
    await client.put("/bad/services/a").value(svc("a", 90));
    await until("the fixed value", () =>
      s.services().find((x) => x.name === "a")?.endpoints[0]?.port === 90 ? true : undefined,
    );
    assert.ok(!s.status().rejected.some((r) => r.key === "/bad/services/a"));
  });

  it("holds a key that refers to what is not there until it is, and refuses a deletion that breaks a reference", async () => {
    await client.put("/refs/services/a").value(svc("a", 80));
    const s = open(etcd.url, "/refs/");
    const seen = watch(s);
    await s.whenReady();
    await client.put("/refs/routes/a").value(JSON.stringify({ host: "a", split: [{ service: "b", weight: 1 }] }));
    await until("the route refused", () => seen.rejected.find((r) => /routes\/a.*no service named "b"/.test(r)));
    assert.equal(s.routes().length, 0);
    await client.put("/refs/services/b").value(svc("b", 81));
    await until("the route accepted once b exists", () => (s.routes().length === 1 ? true : undefined));
    await client.delete().key("/refs/services/b");
    await until("the deletion refused", () =>
      seen.rejected.find((r) => /services\/b was deleted, but .*no service named "b"/.test(r)),
    );
    assert.ok(
      s.services().some((x) => x.name === "b"),
      "b stays while a route sends to it",
    );
    await client.delete().key("/refs/routes/a");
    await until("b to go with the route", () => (s.services().some((x) => x.name === "b") ? undefined : true));
  });

  it("keeps serving while etcd is out of reach, reports the lag, and catches up from its revision", async () => {
    const proxy = await startTcpProxy(Number(new URL(etcd.url).port));
    proxies.push(proxy);
    await client.put("/lag/services/a").value(svc("a", 80));
    const s = open(`http://127.0.0.1:${proxy.port}`, "/lag/");
    const seen = watch(s);
    await s.whenReady();
    const lists = s.status().lists;
    await proxy.cut();
    await until("the source to notice", () => (s.status().connected ? undefined : true));
    await client.put("/lag/services/a").value(svc("a", 81));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s.services()[0]?.endpoints[0]?.port, 80, "the last good config is served meanwhile");
    assert.ok(s.status().lagMs >= 250, `lag ${s.status().lagMs} ms`);
    assert.ok(s.status().lastError);
    await proxy.mend();
    await until("the change made meanwhile", () => (s.services()[0]?.endpoints[0]?.port === 81 ? true : undefined));
    await until("connected again", () => (s.status().connected ? true : undefined));
    assert.equal(s.status().lagMs, 0);
    assert.equal(s.status().lists, lists, "resumed from its revision: no re-list");
    assert.deepEqual(seen.changes.at(-1)?.kinds, ["endpoints"]);
  });

  it("re-lists when its revision was compacted away, and reports only what differs", async () => {
    const proxy = await startTcpProxy(Number(new URL(etcd.url).port));
    proxies.push(proxy);
    await client.put("/compact/services/a").value(svc("a", 80));
    await client.put("/compact/services/b").value(svc("b", 80));
    const s = open(`http://127.0.0.1:${proxy.port}`, "/compact/");
    const seen = watch(s);
    await s.whenReady();
    await proxy.cut();
    await until("the source to notice", () => (s.status().connected ? undefined : true));
    await client.put("/compact/services/b").value(svc("b", 81));
    await client.put("/compact/services/b").value(svc("b", 82));
    etcd.compact();
    const before = seen.changes.length;
    await proxy.mend();
    await until("the re-list", () => (s.status().lists >= 2 ? true : undefined));
    await until("b's change", () =>
      s.services().find((x) => x.name === "b")?.endpoints[0]?.port === 82 ? true : undefined,
    );
    const after = seen.changes.slice(before);
    assert.deepEqual(
      after.map((c) => c.kinds),
      [["endpoints"]],
      "one change, of what differs only",
    );
    assert.match(after[0]?.reason ?? "", /re-listed/);
  });

  it("starts without etcd, is not ready, and loads once etcd answers; survives an etcd restart", async () => {
    const proxy = await startTcpProxy(Number(new URL(etcd.url).port));
    proxies.push(proxy);
    await proxy.cut();
    await client.put("/late/services/a").value(svc("a", 80));
    const s = open(`http://127.0.0.1:${proxy.port}`, "/late/");
    await assert.rejects(s.whenReady(600), /was not read within 600 ms/);
    assert.equal(s.ready(), false);
    assert.deepEqual(s.services(), [], "nothing it has not read");
    await proxy.mend();
    await s.whenReady(15_000);
    assert.equal(s.services()[0]?.name, "a");
    await etcd.restart();
    await client.put("/late/services/a").value(svc("a", 99));
    await until(
      "a change after the restart",
      () => (s.services()[0]?.endpoints[0]?.port === 99 ? true : undefined),
      30_000,
    );
  });

  it("bounds what the store can make it hold: value size and key count, refusing without losing the last good mesh", async () => {
    for (const n of ["a", "b", "c"]) await client.put(`/lim/services/${n}`).value(svc(n, 80));
    const s = open(etcd.url, "/lim/", { maxKeys: 3, maxValueBytes: 300 });
    const seen = watch(s);
    await s.whenReady();
    // A value over the size limit is refused with its key; the key keeps its last good value.
    const big = JSON.stringify({
      name: "a",
      endpoints: Array.from({ length: 20 }, (_, i) => ({ address: `10.0.0.${i + 1}`, port: 80 })),
    });
    await client.put("/lim/services/a").value(big);
    const tooBig = await until("the size refusal", () => seen.rejected.find((r) => r.includes("services/a")));
    assert.match(tooBig, /key \/lim\/services\/a: the value is \d+ bytes; the limit is 300 \(maxValueBytes\)/);
    assert.equal(s.services().find((x) => x.name === "a")?.endpoints.length, 1);
    // A fourth key is refused while three are held…
    await client.put("/lim/services/d").value(svc("d", 80));
    const full = await until("the key-count refusal", () => seen.rejected.find((r) => r.includes("services/d")));
    assert.match(full, /already holds 3 keys, the limit \(maxKeys\)/);
    assert.deepEqual(
      s.services().map((x) => x.name),
      ["a", "b", "c"],
    );
    // …and read once a deletion makes room.
    await client.delete().key("/lim/services/c");
    await until("d after c's deletion", () =>
      s.services().some((x) => x.name === "d") && !s.services().some((x) => x.name === "c") ? true : undefined,
    );
    assert.ok(!s.status().rejected.some((r) => r.key === "/lim/services/d"));

    // A list over the key limit is refused whole: not ready, saying why, until the store shrinks.
    const late = open(etcd.url, "/lim/", { maxKeys: 2 });
    const lateSeen = watch(late);
    await until("the list refusal", () => lateSeen.rejected.find((r) => r.includes("more than the limit of 2")));
    assert.equal(late.ready(), false);
    assert.deepEqual(late.services(), [], "nothing of a store it may not hold");
    assert.match(late.status().lastError ?? "", /holds 3 keys, more than the limit of 2 \(maxKeys\)/);
    await client.delete().key("/lim/services/d");
    await late.whenReady(10_000);
    assert.equal(late.services().length, 2);
  });
});
