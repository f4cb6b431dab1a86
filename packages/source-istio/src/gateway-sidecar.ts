// A Gateway as the model's named gateway servers, and a Sidecar as a
// sidecar scope.
import type { Gateway, SidecarScope } from "@xdskit/config-generator";
import { type NameContext, arr, fieldFail, strings } from "./fields.js";

type Obj = Record<string, unknown>;

const PROTOCOLS: Record<string, Gateway["protocol"]> = {
  HTTP: "http",
  HTTP2: "http",
  GRPC: "http",
  HTTPS: "https",
  TLS: "tls",
  TCP: "tcp",
};

/** Converts a Gateway's spec: one model gateway per server, named `namespace/name`. */
export function convertGateway(spec: Obj, ctx: NameContext, name: string): Gateway[] {
  const selector = strings(spec.selector);
  const servers = arr<Obj>(spec.servers);
  if (servers.length === 0) fieldFail("spec.servers", "must list at least one server");
  return servers.map((s, i) => {
    const path = `spec.servers[${i}]`;
    const port = s.port as Obj | undefined;
    if (typeof port?.number !== "number") fieldFail(`${path}.port.number`, "is required");
    const protocol = PROTOCOLS[String(port.protocol ?? "HTTP").toUpperCase()];
    if (!protocol)
      fieldFail(
        `${path}.port.protocol`,
        `must be HTTP, HTTP2, GRPC, HTTPS, TLS or TCP, got ${JSON.stringify(port.protocol)}`,
      );
    const hosts = arr<string>(s.hosts).map((h) => h.toLowerCase());
    if (hosts.length === 0) fieldFail(`${path}.hosts`, "must list at least one host");
    const t = s.tls as Obj | undefined;
    let tls: Gateway["tls"];
    if (t && t.httpsRedirect !== undefined && t.mode === undefined)
      fieldFail(`${path}.tls.httpsRedirect`, "is not supported by xdskit (route a redirect with a VirtualService)");
    if (t) {
      const mode = String(t.mode ?? "SIMPLE");
      if (mode === "PASSTHROUGH") tls = { mode: "passthrough" };
      else if (mode === "SIMPLE" || mode === "MUTUAL") {
        if (typeof t.credentialName !== "string" || t.credentialName === "")
          fieldFail(`${path}.tls.credentialName`, `${mode} needs the secret holding the server's certificate`);
        for (const f of ["serverCertificate", "privateKey", "caCertificates"])
          if (t[f] !== undefined)
            fieldFail(`${path}.tls.${f}`, "files on the proxy are not supported: give credentialName");
        tls = { mode: mode === "SIMPLE" ? "simple" : "mutual", credentialName: t.credentialName };
      } else fieldFail(`${path}.tls.mode`, `${mode} is not supported (SIMPLE, MUTUAL, PASSTHROUGH)`);
    } else if (protocol === "https") fieldFail(`${path}.tls`, "an HTTPS server needs tls");
    return {
      port: port.number,
      hosts,
      name,
      protocol,
      namespace: ctx.namespace,
      ...(selector ? { selector } : {}),
      ...(tls ? { tls } : {}),
    };
  });
}

/** Converts a Sidecar's spec into a sidecar scope. */
export function convertSidecar(spec: Obj, ctx: NameContext, name: string): SidecarScope {
  const ingress = arr<Obj>(spec.ingress).map((g, i) => {
    const path = `spec.ingress[${i}]`;
    const port = (g.port as Obj | undefined)?.number;
    if (typeof port !== "number") fieldFail(`${path}.port.number`, "is required");
    for (const f of ["bind", "captureMode", "tls", "connectionPool"])
      if (g[f] !== undefined) fieldFail(`${path}.${f}`, "is not supported by xdskit");
    const target = typeof g.defaultEndpoint === "string" ? g.defaultEndpoint : `127.0.0.1:${port}`;
    if (!/^(127\.0\.0\.1|0\.0\.0\.0):\d{1,5}$/.test(target))
      fieldFail(
        `${path}.defaultEndpoint`,
        `must be 127.0.0.1:<port> or 0.0.0.0:<port> (unix sockets are not supported), got ${JSON.stringify(target)}`,
      );
    return { port, target };
  });
  const egress = arr<Obj>(spec.egress);
  const hosts: string[] = [];
  egress.forEach((e, i) => {
    if (e.port !== undefined)
      fieldFail(`spec.egress[${i}].port`, "per-port egress listeners are not supported by xdskit");
    if (e.bind !== undefined || e.captureMode !== undefined)
      fieldFail(`spec.egress[${i}]`, "bind and captureMode are not supported by xdskit");
    const list = arr<string>(e.hosts);
    if (list.length === 0) fieldFail(`spec.egress[${i}].hosts`, "must list at least one host");
    for (const [j, h] of list.entries()) {
      if (!h.includes("/"))
        fieldFail(`spec.egress[${i}].hosts[${j}]`, `must be namespace/host, got ${JSON.stringify(h)}`);
      hosts.push(h.toLowerCase());
    }
  });
  const selector = strings((spec.workloadSelector as Obj | undefined)?.labels);
  const mode = (spec.outboundTrafficPolicy as Obj | undefined)?.mode;
  if (mode !== undefined && mode !== "REGISTRY_ONLY" && mode !== "ALLOW_ANY")
    fieldFail("spec.outboundTrafficPolicy.mode", `must be REGISTRY_ONLY or ALLOW_ANY, got ${JSON.stringify(mode)}`);
  return {
    name,
    namespace: ctx.namespace,
    // No egress: everything (Istio's default scope).
    egressHosts: hosts.length > 0 ? hosts : ["*/*"],
    ...(selector ? { workloadSelector: selector } : {}),
    ...(mode ? { outboundTrafficPolicy: mode === "REGISTRY_ONLY" ? "registry-only" : "allow-any" } : {}),
    ...(ingress.length > 0 ? { ingress } : {}),
  };
}
