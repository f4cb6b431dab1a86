// What the source keeps of each object: the fields the model reads (and the
// resourceVersion that says whether an object changed). A Pod as the API
// server sends it is several kilobytes; a cluster has tens of thousands.
import type { KubernetesObject } from "@kubernetes/client-node";

type Obj = KubernetesObject & Record<string, unknown>;

const meta = (o: Obj, extra: readonly string[] = []) => {
  const m = (o.metadata ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {
    name: m.name,
    namespace: m.namespace,
    resourceVersion: m.resourceVersion,
    uid: m.uid,
    labels: m.labels,
  };
  for (const k of extra) out[k] = m[k];
  return out;
};

const pick = (o: unknown, keys: readonly string[]) => {
  const src = (o ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (src[k] !== undefined) out[k] = src[k];
  return out;
};

/** The transform of each kind the source watches. */
export const slim = {
  Service: (o) => ({
    metadata: meta(o as Obj),
    spec: pick((o as Obj).spec, ["type", "ports", "externalName", "clusterIP", "selector"]),
  }),
  EndpointSlice: (o) => {
    const s = o as Obj;
    return {
      metadata: meta(s, ["ownerReferences"]),
      addressType: s.addressType,
      ports: s.ports,
      endpoints: ((s.endpoints as unknown[] | undefined) ?? []).map((e) =>
        pick(e, ["addresses", "conditions", "nodeName", "zone", "targetRef"]),
      ),
    } as KubernetesObject;
  },
  Pod: (o) => ({
    metadata: meta(o as Obj),
    spec: pick((o as Obj).spec, ["serviceAccountName", "nodeName"]),
    status: pick((o as Obj).status, ["podIP", "podIPs", "phase"]),
  }),
  Node: (o) => ({ metadata: meta(o as Obj) }),
  Namespace: (o) => ({ metadata: meta(o as Obj) }),
} satisfies Record<string, (o: KubernetesObject) => KubernetesObject>;
