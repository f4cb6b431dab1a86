// Istio objects as read: their kind, name and where they came from, checked
// against Istio's own CRD schemas (generated into @kubernetes-models/istio).
// networking.istio.io/v1 is v1beta1 under a new name (Istio serves the same
// schema under v1, v1beta1 and, for most kinds, v1alpha3), so v1 objects are
// checked with the v1beta1 schema.
import * as v1alpha3 from "@kubernetes-models/istio/networking.istio.io/v1alpha3";
import * as v1beta1 from "@kubernetes-models/istio/networking.istio.io/v1beta1";
import * as securityV1 from "@kubernetes-models/istio/security.istio.io/v1";
import * as securityV1beta1 from "@kubernetes-models/istio/security.istio.io/v1beta1";

/** The kinds this source reads. */
export const KINDS = [
  "VirtualService",
  "DestinationRule",
  "ServiceEntry",
  "WorkloadEntry",
  "Gateway",
  "Sidecar",
  "PeerAuthentication",
  "AuthorizationPolicy",
] as const;
/** One of {@link KINDS}. */
export type IstioKind = (typeof KINDS)[number];

/** The API group of a kind. */
export function groupOf(kind: IstioKind): "networking.istio.io" | "security.istio.io" {
  return kind === "PeerAuthentication" || kind === "AuthorizationPolicy" ? "security.istio.io" : "networking.istio.io";
}

/** The API versions accepted, newest first. */
export const VERSIONS = [
  "networking.istio.io/v1",
  "networking.istio.io/v1beta1",
  "networking.istio.io/v1alpha3",
  "security.istio.io/v1",
  "security.istio.io/v1beta1",
] as const;

/** An Istio object as read from a file or the API server. */
export interface IstioObject {
  readonly apiVersion: string;
  readonly kind: IstioKind;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly creationTimestamp?: string;
    readonly resourceVersion?: string;
    readonly labels?: Readonly<Record<string, string>>;
  };
  readonly spec: Record<string, unknown>;
}

/** Where an object came from: a file and document, or the API server. */
export interface Origin {
  /** `reviews.yaml`, or `kubernetes`. */
  readonly source: string;
  /** The document's index in a multi-document file (0-based). */
  readonly document?: number;
}

/** An object, its origin, and the namespace it is in (files without one get the source's default). */
export interface Located {
  readonly object: IstioObject;
  readonly origin: Origin;
  readonly namespace: string;
}

/** `kind namespace/name` — how reports name an object. */
export function describe(kind: string, namespace: string, name: string): string {
  return `${kind} ${namespace}/${name}`;
}

/** `file document n: kind namespace/name`, or `kubernetes: kind namespace/name`. */
export function where(l: Located): string {
  const o = l.origin;
  const at = o.document !== undefined ? `${o.source} document ${o.document + 1}` : o.source;
  return `${at}: ${describe(l.object.kind, l.namespace, l.object.metadata.name)}`;
}

/** The key of an object: `Kind/namespace/name` (one version of each is served). */
export function keyOf(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

type ModelClass = new (data: Record<string, unknown>) => { validate(): void };

// v1 is v1beta1 under a new name (the models know v1 of security.istio.io for AuthorizationPolicy only).
const SCHEMAS: Record<string, Record<string, ModelClass>> = {
  "networking.istio.io/v1beta1": v1beta1 as unknown as Record<string, ModelClass>,
  "networking.istio.io/v1": v1beta1 as unknown as Record<string, ModelClass>,
  "networking.istio.io/v1alpha3": v1alpha3 as unknown as Record<string, ModelClass>,
  "security.istio.io/v1beta1": securityV1beta1 as unknown as Record<string, ModelClass>,
  "security.istio.io/v1": {
    ...(securityV1beta1 as unknown as Record<string, ModelClass>),
    ...(securityV1 as unknown as Record<string, ModelClass>),
  },
};
const CHECKED_AS: Record<string, string> = {
  "networking.istio.io/v1": "networking.istio.io/v1beta1",
  "security.istio.io/v1/PeerAuthentication": "security.istio.io/v1beta1",
};

/** A schema error: the field path (`spec.http[0].route[1].weight`) and what is wrong. */
export interface SchemaProblem {
  readonly path: string;
  readonly message: string;
}

// `/spec/http/0/route` → `spec.http[0].route`
function fieldPath(pointer: string): string {
  return pointer
    .split("/")
    .filter((p) => p !== "")
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join("");
}

/**
 * Checks a parsed document: that it is an object of a kind and version read
 * here, named, and valid under Istio's schema. Returns the problems (empty
 * when it is valid); throws nothing.
 */
export function checkObject(doc: unknown): { object?: IstioObject; problems: SchemaProblem[] } {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    return { problems: [{ path: "", message: "must be a Kubernetes object (apiVersion, kind, metadata, spec)" }] };
  const o = doc as Record<string, unknown>;
  const apiVersion = o.apiVersion;
  const kind = o.kind;
  if (typeof apiVersion !== "string" || !(VERSIONS as readonly string[]).includes(apiVersion))
    return {
      problems: [
        { path: "apiVersion", message: `must be one of ${VERSIONS.join(", ")}, got ${JSON.stringify(apiVersion)}` },
      ],
    };
  if (typeof kind !== "string" || !(KINDS as readonly string[]).includes(kind))
    return { problems: [{ path: "kind", message: `must be one of ${KINDS.join(", ")}, got ${JSON.stringify(kind)}` }] };
  if (!apiVersion.startsWith(`${groupOf(kind as IstioKind)}/`))
    return {
      problems: [{ path: "apiVersion", message: `${kind} is in ${groupOf(kind as IstioKind)}, not ${apiVersion}` }],
    };
  const meta = o.metadata as Record<string, unknown> | undefined;
  if (typeof meta?.name !== "string" || meta.name === "")
    return { problems: [{ path: "metadata.name", message: "is required" }] };
  const Model = SCHEMAS[apiVersion]?.[kind];
  if (!Model) return { problems: [{ path: "kind", message: `${kind} is not served under ${apiVersion}` }] };
  const checkedAs = CHECKED_AS[`${apiVersion}/${kind}`] ?? CHECKED_AS[apiVersion] ?? apiVersion;
  try {
    new Model({ ...o, apiVersion: checkedAs }).validate();
  } catch (err) {
    const errors = (err as { errors?: { instancePath?: string; message?: string }[] }).errors;
    if (!errors) return { problems: [{ path: "", message: err instanceof Error ? err.message : String(err) }] };
    return {
      problems: errors.map((e) => ({ path: fieldPath(e.instancePath ?? ""), message: e.message ?? "is not valid" })),
    };
  }
  const spec = o.spec;
  if (spec !== undefined && (typeof spec !== "object" || spec === null || Array.isArray(spec)))
    return { problems: [{ path: "spec", message: "must be a map" }] };
  return { object: { ...(o as unknown as IstioObject), spec: (spec as Record<string, unknown>) ?? {} }, problems: [] };
}
