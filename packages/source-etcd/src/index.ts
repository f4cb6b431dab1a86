// Curated entry point of @xdskit/source-etcd.
export { createEtcdSource } from "./source.js";
export type { EtcdSource, EtcdSourceEvents, EtcdSourceOptions, EtcdSourceStatus } from "./source.js";
export type { RejectedKey } from "./state.js";
export { checkPrefix, entryKey, parseKey } from "./layout.js";
export type { EntryKey, EntryKind } from "./layout.js";
export { getMesh, meshEntries, putMesh } from "./mesh-store.js";
export type { PutResult } from "./mesh-store.js";
export { MESH_USAGE, runMeshCli } from "./cli.js";
export { etcdConnection } from "./tls.js";
export type { EtcdTlsFiles } from "./tls.js";
