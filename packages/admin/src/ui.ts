// The live dashboard at /ui: one self-contained page (no build step, no
// external assets) that polls the JSON pages every second and draws with SVG.

/** The dashboard's HTML. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>xdskit — control plane</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #57606a; --line: #d0d7de; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
  header { background: #24292f; color: white; padding: 10px 20px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header .stat b { font-size: 18px; }
  main { padding: 16px 20px; display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
  section { background: white; border: 1px solid var(--line); border-radius: 6px; padding: 12px; min-width: 0; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 14px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
  tr.client { cursor: pointer; }
  tr.client:hover, tr.client.selected { background: #ddf4ff; }
  .pill { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 12px; color: white; margin-right: 3px; }
  .SYNCED { background: var(--ok); } .STALE { background: var(--warn); } .NACKED { background: var(--bad); } .NOT_SENT { background: var(--muted); }
  .nack { color: var(--bad); font-size: 12px; }
  .muted { color: var(--muted); }
  pre { max-height: 420px; overflow: auto; background: #f6f8fa; padding: 8px; font-size: 12px; margin: 0; }
  svg text { font-size: 10px; fill: var(--muted); }
  #error { color: var(--bad); }
</style>
</head>
<body>
<header>
  <h1>xdskit control plane</h1>
  <span class="stat"><b id="clients">–</b> clients</span>
  <span class="stat"><b id="groups">–</b> node groups</span>
  <span class="stat"><b id="pushes">–</b> pushes</span>
  <span class="stat"><b id="nacks">–</b> NACKs</span>
  <span id="error"></span>
</header>
<main>
  <section class="wide">
    <h2>Clients <span class="muted">(click one for its config)</span></h2>
    <table><thead><tr><th>node</th><th>group</th><th>identity</th><th>types</th></tr></thead><tbody id="client-rows"></tbody></table>
  </section>
  <section><h2>Pushes over time <span class="muted">(last 10 minutes)</span></h2><svg id="push-plot" width="100%" height="120"></svg></section>
  <section><h2>Convergence: change → ACK <span class="muted">(last 1,000 ACKs)</span></h2><svg id="conv-plot" width="100%" height="120"></svg></section>
  <section><h2>NACKs over time</h2><svg id="nack-plot" width="100%" height="120"></svg><div id="nack-list"></div></section>
  <section><h2>Node groups</h2><table><thead><tr><th>group</th><th>kind</th><th>streams</th></tr></thead><tbody id="group-rows"></tbody></table></section>
  <section class="wide"><h2>Config of <span id="config-node" class="muted">(no client selected)</span></h2><pre id="config"></pre></section>
</main>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("access_token");
const headers = token ? { authorization: "Bearer " + token } : {};
let selected = null;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
async function get(path) {
  const r = await fetch(path, { headers });
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}
function bars(svg, values, labels) {
  const w = svg.clientWidth || 400, h = 120, max = Math.max(1, ...values), n = values.length, bw = w / Math.max(1, n);
  let out = "";
  values.forEach((v, i) => {
    const bh = (v / max) * (h - 20);
    out += '<rect x="' + (i * bw + 1) + '" y="' + (h - 14 - bh) + '" width="' + Math.max(1, bw - 2) + '" height="' + bh + '" fill="#0969da"><title>' + esc(labels[i] + ": " + v) + "</title></rect>";
  });
  out += '<text x="0" y="' + (h - 2) + '">' + esc(labels[0] || "") + '</text><text x="' + (w - 60) + '" y="' + (h - 2) + '">' + esc(labels[n - 1] || "") + "</text>";
  out += '<text x="0" y="10">max ' + max + "</text>";
  svg.innerHTML = out;
}
function overTime(times, minutes) {
  const now = Date.now(), slot = 10000, n = (minutes * 60000) / slot, counts = new Array(n).fill(0);
  for (const t of times) { const i = n - 1 - Math.floor((now - t) / slot); if (i >= 0 && i < n) counts[i]++; }
  return { counts, labels: counts.map((_, i) => "-" + Math.round(((n - 1 - i) * slot) / 1000) + "s") };
}
function histogram(ms) {
  const edges = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, Infinity];
  const counts = new Array(edges.length).fill(0);
  for (const v of ms) counts[edges.findIndex((e) => v <= e)]++;
  return { counts, labels: edges.map((e) => (e === Infinity ? ">10s" : "≤" + e + "ms")) };
}
async function showConfig(node) {
  selected = node;
  $("config-node").textContent = node;
  const dump = await get("/debug/config_dump?node=" + encodeURIComponent(node));
  $("config").textContent = dump ? JSON.stringify(dump.config, null, 2) : "(gone)";
}
async function refresh() {
  try {
    const [sync, activity, groups] = await Promise.all([get("/debug/syncz"), get("/debug/activity"), get("/debug/node_groups")]);
    const byNode = new Map();
    for (const s of sync) {
      const c = byNode.get(s.connection) || { node: s.nodeId, group: s.nodeGroup, types: [] };
      c.types.push(s);
      byNode.set(s.connection, c);
    }
    const conns = await get("/debug/connections");
    const identity = new Map(conns.connections.map((c) => [c.id, c.identity && c.identity.spiffeId ? c.identity.spiffeId : ""]));
    $("clients").textContent = conns.count;
    $("client-rows").innerHTML = [...byNode].map(([id, c]) =>
      '<tr class="client' + (c.node === selected ? " selected" : "") + '" data-node="' + esc(c.node) + '"><td>' + esc(c.node) + "</td><td>" + esc(c.group) + "</td><td>" + esc(identity.get(id) || "") + "</td><td>" +
      c.types.map((t) => '<span class="pill ' + t.status + '" title="' + esc(t.type + " sent " + (t.sentVersion || "-") + ", acked " + (t.ackedVersion || "-")) + '">' + esc(t.type) + " " + t.status + "</span>" + (t.status === "NACKED" && t.nack ? '<div class="nack">' + esc(t.type + ": " + t.nack.error) + "</div>" : "")).join("") +
      "</td></tr>").join("") || '<tr><td colspan="4" class="muted">no client connected</td></tr>';
    for (const row of document.querySelectorAll("tr.client")) row.onclick = () => showConfig(row.dataset.node);
    $("pushes").textContent = activity.pushes.length;
    $("nacks").textContent = activity.nacks.length;
    const p = overTime(activity.pushes.map((x) => Date.parse(x.at)), 10);
    bars($("push-plot"), p.counts, p.labels);
    const h = histogram(activity.convergence.map((x) => x.ms));
    bars($("conv-plot"), h.counts, h.labels);
    const n = overTime(activity.nacks.map((x) => Date.parse(x.at)), 10);
    bars($("nack-plot"), n.counts, n.labels);
    $("nack-list").innerHTML = activity.nacks.slice(-5).reverse().map((x) => '<div class="nack">' + esc(x.at.slice(11, 19) + " " + x.nodeId + " " + x.type + ": " + x.error) + "</div>").join("");
    if (groups) {
      $("groups").textContent = groups.nodeGroups.length;
      $("group-rows").innerHTML = groups.nodeGroups.map((g) => "<tr><td>" + esc(g.name) + "</td><td>" + esc(g.kind) + "</td><td>" + g.streams + "</td></tr>").join("");
    }
    $("error").textContent = "";
  } catch (err) {
    $("error").textContent = String(err);
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
