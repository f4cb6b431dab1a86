// Test helpers: a real Kubernetes control plane (etcd, kube-apiserver and the
// EndpointSlice controller) on free loopback ports, and a client that
// creates namespaces, Services and Pods made ready as a kubelet would.
export { DEFAULT_KUBE_BIN, applyAll, freePort, kubeMissing, startTestKube } from "./kube.js";
export type { TestKube, TestKubeOptions } from "./kube.js";
export { DEFAULT_NODE, TestCluster } from "./objects.js";
export type { TestPod } from "./objects.js";
