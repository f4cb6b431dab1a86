// A VirtualService as the model's route rules: one rule per host and HTTP
// route (first match wins, in the order written), and TCP/TLS routes. What
// xdskit cannot honour is refused with its field path rather than dropped:
// a route served without one of its conditions would match more than its
// author meant.
import type {
  CorsPolicy,
  HeaderOperations,
  RouteFault,
  RouteMatch,
  RouteRule,
  TcpRoute,
  WeightedDestination,
} from "@xdskit/config-generator";
import {
  GRPC_CODES,
  type NameContext,
  arr,
  durationMs,
  exportTo,
  fieldFail,
  matchMap,
  percent,
  resolveGateway,
  resolveHost,
  stringMatch,
  strings,
} from "./fields.js";

type Obj = Record<string, unknown>;

/** What a VirtualService becomes. */
export interface ConvertedRoutes {
  readonly routes: RouteRule[];
  readonly tcpRoutes: TcpRoute[];
}

function destination(d: Obj | undefined, path: string, ctx: NameContext): Omit<WeightedDestination, "weight"> {
  if (!d || typeof d.host !== "string") fieldFail(`${path}.host`, "is required");
  const port = (d.port as Obj | undefined)?.number;
  return {
    service: resolveHost(d.host, ctx),
    ...(typeof d.subset === "string" && d.subset !== "" ? { subset: d.subset } : {}),
    ...(typeof port === "number" ? { port } : {}),
  };
}

// Weights: one destination takes everything; several share by weight (a missing one is 0).
function split(route: unknown, path: string, ctx: NameContext): WeightedDestination[] {
  const list = arr<Obj>(route);
  return list.map((r, i) => ({
    ...destination(r.destination as Obj | undefined, `${path}[${i}].destination`, ctx),
    weight: list.length === 1 ? 100 : typeof r.weight === "number" ? r.weight : 0,
  }));
}

function headerOps(h: Obj | undefined): HeaderOperations | undefined {
  if (!h) return undefined;
  const set = strings(h.set);
  const add = strings(h.add);
  const remove = arr<string>(h.remove).map((x) => x.toLowerCase());
  if (!set && !add && remove.length === 0) return undefined;
  return { ...(set ? { set } : {}), ...(add ? { add } : {}), ...(remove.length > 0 ? { remove } : {}) };
}

function match(m: Obj, path: string, ctx: NameContext): RouteMatch {
  if (m.sourceNamespace !== undefined)
    fieldFail(`${path}.sourceNamespace`, "is not supported by xdskit (use sourceLabels)");
  const headers = matchMap(m.headers, `${path}.headers`, true) ?? {};
  if (m.scheme !== undefined) headers[":scheme"] = stringMatch(m.scheme, `${path}.scheme`);
  const withoutHeaders = matchMap(m.withoutHeaders, `${path}.withoutHeaders`, true);
  const queryParams = matchMap(m.queryParams, `${path}.queryParams`, false);
  const sourceLabels = strings(m.sourceLabels);
  const gateways = arr<string>(m.gateways).map((g) => resolveGateway(g, ctx));
  return {
    ...(m.uri !== undefined ? { uri: stringMatch(m.uri, `${path}.uri`) } : {}),
    ...(m.ignoreUriCase === true ? { ignoreUriCase: true } : {}),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    ...(withoutHeaders ? { withoutHeaders } : {}),
    ...(queryParams ? { queryParams } : {}),
    ...(m.method !== undefined ? { method: stringMatch(m.method, `${path}.method`) } : {}),
    ...(m.authority !== undefined ? { authority: stringMatch(m.authority, `${path}.authority`) } : {}),
    ...(typeof m.port === "number" ? { port: m.port } : {}),
    ...(sourceLabels ? { sourceLabels } : {}),
    ...(gateways.length > 0 ? { gateways } : {}),
  };
}

function fault(f: Obj, path: string): RouteFault {
  const out: { -readonly [K in keyof RouteFault]: RouteFault[K] } = {};
  const d = f.delay as Obj | undefined;
  if (d) {
    if (d.exponentialDelay !== undefined)
      fieldFail(`${path}.delay.exponentialDelay`, "is not supported (use fixedDelay)");
    out.delay = {
      fixedMs: durationMs(d.fixedDelay, `${path}.delay.fixedDelay`),
      percent: percent(d.percentage, d.percent, `${path}.delay.percentage`) ?? 100,
    };
  }
  const a = f.abort as Obj | undefined;
  if (a) {
    const pct = percent(a.percentage, a.percent, `${path}.abort.percentage`) ?? 100;
    if (typeof a.httpStatus === "number") out.abort = { httpStatus: a.httpStatus, percent: pct };
    else if (a.grpcStatus !== undefined) {
      const code = typeof a.grpcStatus === "number" ? a.grpcStatus : GRPC_CODES[String(a.grpcStatus).toUpperCase()];
      if (code === undefined)
        fieldFail(`${path}.abort.grpcStatus`, `unknown gRPC status ${JSON.stringify(a.grpcStatus)}`);
      out.abort = { grpcStatus: code, percent: pct };
    } else fieldFail(`${path}.abort`, "needs httpStatus or grpcStatus (http2Error is not supported)");
  }
  return out;
}

function cors(c: Obj, path: string): CorsPolicy {
  const origins = [
    ...arr(c.allowOrigins).map((o, i) => stringMatch(o, `${path}.allowOrigins[${i}]`)),
    ...arr<string>(c.allowOrigin).map((o) => ({ exact: o })),
  ];
  if (origins.length === 0) fieldFail(`${path}.allowOrigins`, "must list at least one origin");
  return {
    allowOrigins: origins,
    ...(c.allowMethods ? { allowMethods: arr<string>(c.allowMethods) } : {}),
    ...(c.allowHeaders ? { allowHeaders: arr<string>(c.allowHeaders) } : {}),
    ...(c.exposeHeaders ? { exposeHeaders: arr<string>(c.exposeHeaders) } : {}),
    ...(c.maxAge !== undefined ? { maxAgeS: Math.round(durationMs(c.maxAge, `${path}.maxAge`) / 1000) } : {}),
    ...(typeof c.allowCredentials === "boolean" ? { allowCredentials: c.allowCredentials } : {}),
  };
}

// Everything of one HTTP route but its host.
function httpRoute(h: Obj, path: string, ctx: NameContext): Omit<RouteRule, "host"> {
  if (h.delegate !== undefined) fieldFail(`${path}.delegate`, "is not supported by xdskit");
  if (arr(h.mirrors).length > 0) fieldFail(`${path}.mirrors`, "is not supported (use mirror, one destination)");
  const routes = arr<Obj>(h.route);
  const headersOf = (o: Obj | undefined) => ({
    request: headerOps((o?.headers as Obj | undefined)?.request as Obj | undefined),
    response: headerOps((o?.headers as Obj | undefined)?.response as Obj | undefined),
  });
  const own = headersOf(h);
  // Header operations per destination apply rule-wide only when there is one destination.
  routes.forEach((r, i) => {
    if (r.headers !== undefined && routes.length > 1)
      fieldFail(`${path}.route[${i}].headers`, "per-destination headers are supported with one destination only");
  });
  const dest = headersOf(routes[0]);
  const request = own.request ?? dest.request;
  const response = own.response ?? dest.response;
  if (!h.redirect && routes.length === 0 && h.directResponse === undefined)
    fieldFail(`${path}.route`, "needs a route or a redirect");
  if (h.directResponse !== undefined) fieldFail(`${path}.directResponse`, "is not supported by xdskit");
  const r = h.redirect as Obj | undefined;
  const w = h.rewrite as Obj | undefined;
  const retries = h.retries as Obj | undefined;
  const m = h.mirror as Obj | undefined;
  const mirrorPct = percent(h.mirrorPercentage, h.mirrorPercent, `${path}.mirrorPercentage`);
  return {
    split: r ? [] : split(h.route, `${path}.route`, ctx),
    ...(arr(h.match).length > 0
      ? { match: arr<Obj>(h.match).map((x, i) => match(x, `${path}.match[${i}]`, ctx)) }
      : {}),
    ...(r
      ? {
          redirect: {
            ...(typeof r.uri === "string" ? { uri: r.uri } : {}),
            ...(typeof r.authority === "string" ? { authority: r.authority } : {}),
            ...(typeof r.port === "number" ? { port: r.port } : {}),
            ...(typeof r.scheme === "string" ? { scheme: r.scheme } : {}),
            ...(typeof r.redirectCode === "number" ? { code: r.redirectCode } : {}),
          },
        }
      : {}),
    ...(w
      ? {
          rewrite: {
            ...(typeof w.uri === "string" ? { uri: w.uri } : {}),
            ...(typeof w.authority === "string" ? { authority: w.authority } : {}),
            ...(w.uriRegexRewrite
              ? {
                  uriRegex: {
                    match: String((w.uriRegexRewrite as Obj).match ?? ""),
                    rewrite: String((w.uriRegexRewrite as Obj).rewrite ?? ""),
                  },
                }
              : {}),
          },
        }
      : {}),
    ...(h.timeout !== undefined ? { timeoutMs: durationMs(h.timeout, `${path}.timeout`) } : {}),
    ...(retries
      ? {
          retries: {
            attempts: typeof retries.attempts === "number" ? retries.attempts : 0,
            ...(retries.perTryTimeout !== undefined
              ? { perTryTimeoutMs: durationMs(retries.perTryTimeout, `${path}.retries.perTryTimeout`) }
              : {}),
            ...(typeof retries.retryOn === "string" && retries.retryOn !== "" ? { on: retries.retryOn } : {}),
          },
        }
      : {}),
    ...(h.fault ? { fault: fault(h.fault as Obj, `${path}.fault`) } : {}),
    ...(m
      ? {
          mirror: {
            ...destination(m, `${path}.mirror`, ctx),
            ...(mirrorPct !== undefined ? { percent: mirrorPct } : {}),
          },
        }
      : {}),
    ...(request ? { requestHeaders: request } : {}),
    ...(response ? { responseHeaders: response } : {}),
    ...(h.corsPolicy ? { cors: cors(h.corsPolicy as Obj, `${path}.corsPolicy`) } : {}),
  };
}

function tcpRoute(t: Obj, kind: "tcp" | "tls", path: string, ctx: NameContext): Omit<TcpRoute, "host"> {
  const matches = arr<Obj>(t.match).map((m, i) => {
    const at = `${path}.match[${i}]`;
    if (m.sourceNamespace !== undefined)
      fieldFail(`${at}.sourceNamespace`, "is not supported by xdskit (use sourceLabels)");
    const sni = arr<string>(m.sniHosts);
    if (kind === "tls" && sni.length === 0) fieldFail(`${at}.sniHosts`, "is required for a TLS route");
    const sourceLabels = strings(m.sourceLabels);
    const gateways = arr<string>(m.gateways).map((g) => resolveGateway(g, ctx));
    const subnets = arr<string>(m.destinationSubnets);
    return {
      ...(typeof m.port === "number" ? { port: m.port } : {}),
      ...(sni.length > 0 ? { sniHosts: sni.map((h) => h.toLowerCase()) } : {}),
      ...(subnets.length > 0 ? { destinationSubnets: subnets } : {}),
      ...(sourceLabels ? { sourceLabels } : {}),
      ...(gateways.length > 0 ? { gateways } : {}),
    };
  });
  if (kind === "tls" && matches.length === 0) fieldFail(`${path}.match`, "a TLS route needs a match with sniHosts");
  return { kind, split: split(t.route, `${path}.route`, ctx), ...(matches.length > 0 ? { match: matches } : {}) };
}

/**
 * Converts a VirtualService's spec. `label` names each rule in reports (with
 * the route's index); `order` is where its rules start in the first-match
 * order of their hosts (each HTTP route takes the next number).
 */
export function convertVirtualService(spec: Obj, ctx: NameContext, label: string, order: number): ConvertedRoutes {
  const hosts = arr<string>(spec.hosts).map((h) => resolveHost(h, ctx));
  if (hosts.length === 0) fieldFail("spec.hosts", "must list at least one host");
  const gateways = arr<string>(spec.gateways).map((g) => resolveGateway(g, ctx));
  const common = {
    namespace: ctx.namespace,
    ...(exportTo(spec.exportTo) ? { exportTo: exportTo(spec.exportTo) as string[] } : {}),
    ...(gateways.length > 0 ? { gateways } : {}),
  };
  const routes: RouteRule[] = [];
  arr<Obj>(spec.http).forEach((h, i) => {
    const path = `spec.http[${i}]`;
    const rule = httpRoute(h, path, ctx);
    for (const host of hosts)
      routes.push({
        ...rule,
        ...common,
        host,
        order: order + i,
        name: `${label} ${path}${hosts.length > 1 ? ` ${host}` : ""}`,
      });
  });
  const tcpRoutes: TcpRoute[] = [];
  for (const kind of ["tcp", "tls"] as const) {
    arr<Obj>(spec[kind]).forEach((t, i) => {
      const path = `spec.${kind}[${i}]`;
      const route = tcpRoute(t, kind, path, ctx);
      for (const host of hosts)
        tcpRoutes.push({
          ...route,
          ...common,
          host,
          order: order + i,
          name: `${label} ${path}${hosts.length > 1 ? ` ${host}` : ""}`,
        });
    });
  }
  return { routes, tcpRoutes };
}
