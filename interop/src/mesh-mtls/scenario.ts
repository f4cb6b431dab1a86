// Runs inside network namespace A, as root (mesh-mtls.test.ts starts it): A
// and B are joined by a veth pair; minimal-pilot (the mesh's CA, reading
// Istio resources from a folder) and Envoy "client" run in A, Envoy "server"
// and its application in B, each Envoy under Istio's capture rules and
// proving its identity to the pilot with a client certificate. The app in A
// calls the server's service by name; what happens on the wire, in the
// Envoys' /certs and stats, and what a plaintext caller outside the mesh
// gets, go to stdout as one JSON line.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { createTestPki } from "@xdskit/ads-server/testing";
import { createAdsClient } from "@xdskit/adsc";
import { MeshCa } from "@xdskit/mesh-ca";
import { TypeUrl } from "@xdskit/xds-types";
import { rejections, startEnvoy } from "../harness/envoy.js";
import { startIstioPilot } from "../harness/pilot.js";
import { waitFor } from "../harness/wait.js";

const NS_B = process.env.MESH_NS_B as string;
const A = "10.230.0.1";
const B = "10.230.0.2";
const VIP = "10.230.100.1";
const PROXY_UID = 1337;

const sh = (...args: string[]) => execFileSync(args[0] as string, args.slice(1));
const inB = (...args: string[]) => sh("ip", "netns", "exec", NS_B, ...args);

const services = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: server, namespace: shop }
spec:
  hosts: [server.shop.svc.cluster.local]
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints:
    - { address: ${B}, labels: { app: server, security.istio.io/tlsMode: istio }, serviceAccount: server }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: no-admin, namespace: shop }
spec:
  selector: { matchLabels: { app: server } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin*"] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: private-for-client, namespace: shop }
spec:
  selector: { matchLabels: { app: server } }
  action: ALLOW
  rules:
    - to: [{ operation: { notPaths: ["/private*"] } }]
    - from: [{ source: { principals: ["cluster.local/ns/shop/sa/client"] } }]
      to: [{ operation: { paths: ["/private*"] } }]
`;
const peer = (mode: string) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: shop }
spec: { mtls: { mode: ${mode} } }
`;

interface Answer {
  status: number;
  body: string;
}

function get(urlPath: string, opts: { ip?: string; host?: string } = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: opts.ip ?? VIP,
        port: 8080,
        path: urlPath,
        headers: { host: opts.host ?? "server.shop.svc.cluster.local" },
        agent: false,
      },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.setTimeout(4000, () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ status: 0, body: `error ${e.message}` }));
    req.end();
  });
}

// A caller outside the mesh: it runs as the proxy's user, so no capture rule sends it to Envoy A.
function outside(urlPath: string): Answer {
  const script = `require("http").get({host:"${B}",port:8080,path:"${urlPath}",agent:false},r=>{let b="";r.on("data",d=>b+=d);r.on("end",()=>console.log(JSON.stringify({status:r.statusCode,body:b})))}).on("error",e=>console.log(JSON.stringify({status:0,body:"error "+e.code})))`;
  const out = execFileSync(
    "setpriv",
    [`--reuid=${PROXY_UID}`, `--regid=${PROXY_UID}`, "--clear-groups", process.execPath, "-e", script],
    {
      encoding: "utf8",
      timeout: 8000,
    },
  );
  return JSON.parse(out.trim()) as Answer;
}

const certSerials = async (envoy: { adminPort: number }, host: string) => {
  const certs = (await (await fetch(`http://${host}:${envoy.adminPort}/certs`)).json()) as {
    certificates: { cert_chain?: { serial_number: string; subject_alt_names?: { uri?: string }[] }[] }[];
  };
  return certs.certificates.flatMap((c) =>
    (c.cert_chain ?? []).map((x) => ({ serial: x.serial_number, san: x.subject_alt_names?.[0]?.uri ?? "" })),
  );
};

async function main(): Promise<void> {
  sh("ip", "link", "set", "lo", "up");
  inB("ip", "link", "set", "lo", "up");
  sh("ip", "route", "add", "local", "10.230.100.0/24", "dev", "lo");
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-mesh-mtls-"));
  fs.chmodSync(work, 0o755);
  // The mesh CA the pilot runs as, and the certificates the Envoys prove their identities with to it.
  const caDir = path.join(work, "ca");
  const ca = MeshCa.create({ trustDomain: "cluster.local", dir: caDir });
  const idFile = (sa: string) => {
    const c = ca.issue(ca.spiffeId("shop", sa), { ttlMs: 3_600_000 });
    fs.writeFileSync(path.join(work, `${sa}.crt`), c.certificateChainPem);
    fs.writeFileSync(path.join(work, `${sa}.key`), c.privateKeyPem, { mode: 0o644 });
    return { cert: path.join(work, `${sa}.crt`), key: path.join(work, `${sa}.key`) };
  };
  const pki = createTestPki();
  const serving = pki.server(pki.ca("pilot-ca"), "pilot", [A]);
  const pilotCa = path.join(pki.dir, "pilot-ca.crt");
  for (const f of fs.readdirSync(pki.dir)) fs.chmodSync(path.join(pki.dir, f), 0o644);
  fs.chmodSync(pki.dir, 0o755);

  // The server's application, behind Envoy B: it says who it is and what it was asked.
  const app = `require("http").createServer((q,r)=>r.end("server "+q.url)).listen(8080,"0.0.0.0",()=>console.log("serving"))`;
  const appB = (await import("node:child_process")).spawn("ip", ["netns", "exec", NS_B, process.execPath, "-e", app], {
    stdio: ["ignore", "pipe", "pipe"],
  });

  const pilot = await startIstioPilot({ "services.yaml": services, "peer.yaml": peer("STRICT") }, [
    "--host",
    A,
    "--mesh-ca",
    caDir,
    "--cert-ttl",
    "20",
    "--tls-cert",
    serving.cert,
    "--tls-key",
    serving.key,
    "--client-ca",
    path.join(caDir, "root-cert.pem"),
  ]);
  const node = (sa: string, ip: string) => `sidecar~${ip}~${sa}-1.shop~shop.svc.cluster.local`;
  const meta = (sa: string) => ({ NAMESPACE: "shop", SERVICE_ACCOUNT: sa, LABELS: { app: sa } });
  const client = await startEnvoy({
    nodeId: node("client", A),
    xdsHost: A,
    xdsPort: pilot.xdsPort,
    uid: PROXY_UID,
    metadata: meta("client"),
    xdsTls: { ...idFile("client"), ca: pilotCa },
  });
  const server = await startEnvoy({
    nodeId: node("server", B),
    xdsHost: A,
    xdsPort: pilot.xdsPort,
    uid: PROXY_UID,
    metadata: meta("server"),
    netns: NS_B,
    adminHost: B,
    xdsTls: { ...idFile("server"), ca: pilotCa },
  });
  const result: Record<string, unknown> = {};
  try {
    await waitFor(
      "both sidecars configured",
      async () =>
        (await client.stat("listener_manager.total_listeners_active")) >= 3 &&
        (await server.stat("listener_manager.total_listeners_active")) >= 3
          ? true
          : undefined,
      20_000,
    );
    // Istio's capture in both namespaces: outbound to 15001, and in B inbound to 15006.
    for (const ns of [undefined, NS_B]) {
      const ipt = (...a: string[]) => (ns ? inB : sh)("iptables", "-t", "nat", ...a);
      ipt("-A", "OUTPUT", "-p", "tcp", "-m", "owner", "--uid-owner", String(PROXY_UID), "-j", "RETURN");
      ipt("-A", "OUTPUT", "-p", "tcp", "-d", "127.0.0.0/8", "-j", "RETURN");
      ipt("-A", "OUTPUT", "-p", "tcp", "-d", A, "-j", "RETURN");
      // The test's own calls to Envoy B's admin port are not the mesh's traffic.
      ipt("-A", "OUTPUT", "-p", "tcp", "-d", B, "!", "--dport", "8080", "-j", "RETURN");
      ipt("-A", "OUTPUT", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "15001");
    }
    inB(
      "iptables",
      "-t",
      "nat",
      "-A",
      "PREROUTING",
      "-p",
      "tcp",
      "--dport",
      "8080",
      "-j",
      "REDIRECT",
      "--to-ports",
      "15006",
    );

    await waitFor(
      "a call through both sidecars",
      async () => ((await get("/hello")).status === 200 ? true : undefined),
      20_000,
      200,
    );
    result.strict = {
      hello: await get("/hello"),
      outside: outside("/hello"),
      clientHandshakes: await client.stat("cluster.outbound|8080||server.shop.svc.cluster.local.ssl.handshake"),
      serverHandshakes: await server.stat("listener.0.0.0.0_15006.ssl.handshake"),
    };
    result.certs = { client: await certSerials(client, "127.0.0.1"), server: await certSerials(server, B) };
    result.authz = {
      admin: await get("/admin/users"),
      privateFromClient: await get("/private/data"),
    };
    // A stream proving "client" but claiming "server" is refused before anything is sent.
    const id = idFile("client");
    const impostor = createAdsClient({
      target: `${A}:${pilot.xdsPort}`,
      node: { id: node("server", "10.230.0.9"), cluster: "mesh", metadata: meta("server") as never },
      reconnect: false,
      security: { ca: fs.readFileSync(pilotCa), cert: fs.readFileSync(id.cert), key: fs.readFileSync(id.key) },
    });
    const refused = await new Promise<string>((resolve) => {
      impostor.on("disconnected", (e) => resolve(`${e.code} ${e.details}`));
      impostor.subscribe(TypeUrl.Secret, ["default"]);
      setTimeout(() => resolve("no answer"), 5000);
    });
    impostor.close();
    result.impostor = refused;

    fs.writeFileSync(path.join(pilot.dir, "peer.yaml"), peer("PERMISSIVE"));
    await waitFor(
      "PERMISSIVE to take effect",
      () => (outside("/hello").status === 200 ? true : undefined),
      20_000,
      300,
    );
    result.permissive = {
      outside: outside("/hello"),
      privateFromOutside: outside("/private/data"),
      meshStill: await get("/hello"),
    };

    // Rotation: certificates live 20 s and are replaced at about 10 s; calls never stop meanwhile.
    const before = await certSerials(server, B);
    let failures = 0;
    let calls = 0;
    const until = Date.now() + 14_000;
    while (Date.now() < until) {
      const a = await get("/hello");
      calls++;
      if (a.status !== 200) failures++;
      await new Promise((r) => setTimeout(r, 100));
    }
    result.rotation = { before, after: await certSerials(server, B), calls, failures };
    result.pilotCerts = await pilot.admin("/debug/certs");
    result.rejections = [...rejections(await client.stats()), ...rejections(await server.stats())];
  } catch (err) {
    result.error =
      err instanceof Error ? `${err.message} ${err.stack} ${String((err as { cause?: unknown }).cause)}` : String(err);
    result.clientLog = client.log().slice(-2500);
    result.serverLog = server.log().slice(-2500);
    result.pilotLog = pilot.output().slice(-3000);
  } finally {
    await client.stop();
    await server.stop();
    await pilot.stop();
    appB.kill("SIGKILL");
    pki.remove();
    fs.rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`mesh mTLS scenario: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
