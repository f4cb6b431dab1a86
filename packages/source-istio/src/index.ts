// @xdskit/source-istio: Istio's networking API (VirtualService,
// DestinationRule, ServiceEntry, WorkloadEntry, Gateway, Sidecar) as an
// xdskit service registry and config store, from a folder or a cluster.
export { IstioStore } from "./store.js";
export type { IstioStoreOptions, ObjectUpdate, RefusedObject, SourceDocument } from "./store.js";
export { createIstioFolderSource } from "./folder.js";
export type { IstioFolderOptions, IstioFolderSource } from "./folder.js";
export { createIstioKubernetesSource } from "./kubernetes.js";
export type { IstioKubernetesOptions, IstioKubernetesSource } from "./kubernetes.js";
export { KINDS, VERSIONS, checkObject } from "./objects.js";
export type { IstioKind, IstioObject, Origin, SchemaProblem } from "./objects.js";
export { FieldError, resolveHost } from "./fields.js";
