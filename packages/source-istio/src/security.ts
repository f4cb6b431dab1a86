// PeerAuthentication and AuthorizationPolicy (security.istio.io) as the
// model's security policies. A field xdskit cannot enforce (a JWT
// requirement without RequestAuthentication, a condition on an attribute it
// cannot read) does not refuse the policy: it is kept as unenforceable and
// fails closed, as a policy that cannot be applied must.
import type {
  AccessCondition,
  AccessPolicy,
  AccessRule,
  AccessSource,
  MtlsMode,
  PeerAuthenticationPolicy,
} from "@xdskit/config-generator";
import { type NameContext, arr, fieldFail, strings } from "./fields.js";

type Obj = Record<string, unknown>;

const MODES: Record<string, MtlsMode> = {
  UNSET: "unset",
  DISABLE: "disable",
  PERMISSIVE: "permissive",
  STRICT: "strict",
};

function mode(v: unknown, path: string): MtlsMode | undefined {
  if (v === undefined || v === null) return undefined;
  const m = MODES[String((v as Obj).mode ?? "UNSET")];
  if (!m)
    fieldFail(`${path}.mode`, `must be UNSET, DISABLE, PERMISSIVE or STRICT, got ${JSON.stringify((v as Obj).mode)}`);
  return m;
}

/** Converts a PeerAuthentication's spec. */
export function convertPeerAuthentication(spec: Obj, ctx: NameContext, name: string): PeerAuthenticationPolicy {
  const selector = strings((spec.selector as Obj | undefined)?.matchLabels);
  const m = mode(spec.mtls, "spec.mtls");
  const ports: Record<string, MtlsMode> = {};
  for (const [port, v] of Object.entries((spec.portLevelMtls ?? {}) as Obj)) {
    if (!selector)
      fieldFail("spec.portLevelMtls", "needs a selector (port-level modes apply to workloads, as in Istio)");
    const pm = mode(v, `spec.portLevelMtls.${port}`);
    if (pm) ports[port] = pm;
  }
  return {
    name,
    namespace: ctx.namespace,
    ...(selector ? { selector } : {}),
    ...(m ? { mode: m } : {}),
    ...(Object.keys(ports).length > 0 ? { portModes: ports } : {}),
  };
}

const SUPPORTED_KEYS =
  /^(request\.headers\[[^\]]+\]|source\.ip|remote\.ip|source\.namespace|source\.principal|destination\.port)$/;

/** Converts an AuthorizationPolicy's spec. */
export function convertAuthorizationPolicy(spec: Obj, ctx: NameContext, name: string): AccessPolicy {
  const action = String(spec.action ?? "ALLOW");
  if (action === "CUSTOM") fieldFail("spec.action", "CUSTOM (an external authorizer) is not supported by xdskit");
  if (!["ALLOW", "DENY", "AUDIT"].includes(action))
    fieldFail("spec.action", `must be ALLOW, DENY or AUDIT, got ${JSON.stringify(action)}`);
  if (spec.targetRef !== undefined || spec.targetRefs !== undefined)
    fieldFail("spec.targetRef", "is not supported by xdskit (use selector)");
  const selector = strings((spec.selector as Obj | undefined)?.matchLabels);
  const problems: string[] = [];
  const rules: AccessRule[] = arr<Obj>(spec.rules).map((r, i) => {
    const path = `spec.rules[${i}]`;
    const when: AccessCondition[] = [];
    const from: AccessSource[] = arr<Obj>(r.from).map((f, j) => {
      const s = (f.source ?? {}) as Obj;
      const at = `${path}.from[${j}].source`;
      if (arr(s.requestPrincipals).length || arr(s.notRequestPrincipals).length)
        problems.push(
          `${at}.requestPrincipals: JWT principals need a RequestAuthentication, which xdskit does not apply`,
        );
      if (arr(s.remoteIpBlocks).length || arr(s.notRemoteIpBlocks).length)
        when.push({
          key: "remote.ip",
          ...(arr(s.remoteIpBlocks).length ? { values: arr<string>(s.remoteIpBlocks) } : {}),
          ...(arr(s.notRemoteIpBlocks).length ? { notValues: arr<string>(s.notRemoteIpBlocks) } : {}),
        });
      const list = (k: string) => (arr(s[k]).length ? { [k]: arr<string>(s[k]) } : {});
      return {
        ...list("principals"),
        ...list("notPrincipals"),
        ...list("namespaces"),
        ...list("notNamespaces"),
        ...list("ipBlocks"),
        ...list("notIpBlocks"),
      };
    });
    const to = arr<Obj>(r.to).map((t) => {
      const o = (t.operation ?? {}) as Obj;
      const list = (k: string) => (arr(o[k]).length ? { [k]: arr<string>(o[k]) } : {});
      const nums = (k: string) => (arr(o[k]).length ? { [k]: arr<string | number>(o[k]).map(Number) } : {});
      return {
        ...list("hosts"),
        ...list("notHosts"),
        ...nums("ports"),
        ...nums("notPorts"),
        ...list("methods"),
        ...list("notMethods"),
        ...list("paths"),
        ...list("notPaths"),
      };
    });
    arr<Obj>(r.when).forEach((c, j) => {
      const key = String(c.key ?? "");
      if (!SUPPORTED_KEYS.test(key)) {
        problems.push(`${path}.when[${j}].key: ${key} is not an attribute xdskit can read`);
        return;
      }
      when.push({
        key,
        ...(arr(c.values).length ? { values: arr<string>(c.values) } : {}),
        ...(arr(c.notValues).length ? { notValues: arr<string>(c.notValues) } : {}),
      });
    });
    return { ...(from.length ? { from } : {}), ...(to.length ? { to } : {}), ...(when.length ? { when } : {}) };
  });
  return {
    name,
    namespace: ctx.namespace,
    ...(selector ? { selector } : {}),
    action: action.toLowerCase() as AccessPolicy["action"],
    rules,
    ...(problems.length > 0 ? { unenforceable: problems.join("; ") } : {}),
  };
}
