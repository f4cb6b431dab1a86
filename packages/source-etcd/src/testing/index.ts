// Test helpers of @xdskit/source-etcd: a real etcd server on the loopback.
export { etcdMissing, startTestEtcd } from "./etcd.js";
export type { TestEtcd, TestEtcdTls } from "./etcd.js";
export { startTcpProxy } from "./proxy.js";
export type { TcpProxy } from "./proxy.js";
