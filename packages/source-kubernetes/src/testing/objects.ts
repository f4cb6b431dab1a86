// Objects for tests against the real API server: namespaces with their
// default service account, Services, Nodes, and Pods made Running and Ready
// (or not) by writing their status as a kubelet would.
import { CoreV1Api, type KubeConfig, type V1Pod, type V1ServiceSpec } from "@kubernetes/client-node";

/** A Pod a test wants. */
export interface TestPod {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly serviceAccount?: string;
  /** The Node it runs on (the EndpointSlice controller skips pods on no known Node). Default {@link DEFAULT_NODE}, created on first use. */
  readonly nodeName?: string;
  /** Default true. */
  readonly ready?: boolean;
}

/** The Node pods run on unless a test says otherwise. */
export const DEFAULT_NODE = "node-a";

/** What tests do to a cluster. */
export class TestCluster {
  readonly core: CoreV1Api;
  #defaultNode: Promise<void> | undefined;

  constructor(readonly config: KubeConfig) {
    this.core = config.makeApiClient(CoreV1Api);
  }

  /** Creates a namespace (with labels) and its `default` service account, unless they exist. */
  async namespace(name: string, labels: Record<string, string> = {}): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name, labels } } }).catch(ignoreExists);
    await this.serviceAccount(name, "default");
  }

  /** Creates a service account unless it exists. */
  async serviceAccount(namespace: string, name: string): Promise<void> {
    await this.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } }).catch(ignoreExists);
  }

  /** Creates a Node with labels (say, topology.kubernetes.io/zone). */
  async node(name: string, labels: Record<string, string>): Promise<void> {
    await this.core.createNode({ body: { metadata: { name, labels } } }).catch(ignoreExists);
  }

  /** Creates a Service. */
  async service(namespace: string, name: string, spec: V1ServiceSpec, labels: Record<string, string> = {}) {
    return this.core.createNamespacedService({ namespace, body: { metadata: { name, labels }, spec } });
  }

  /** Creates a Pod and gives it its IP and readiness, as a kubelet would. */
  async pod(p: TestPod): Promise<void> {
    if (!p.nodeName) {
      this.#defaultNode ??= this.node(DEFAULT_NODE, {
        "topology.kubernetes.io/region": "local",
        "topology.kubernetes.io/zone": "a",
      });
      await this.#defaultNode;
    }
    await this.core.createNamespacedPod({
      namespace: p.namespace,
      body: {
        metadata: { name: p.name, labels: { ...(p.labels ?? {}) } },
        spec: {
          ...(p.serviceAccount ? { serviceAccountName: p.serviceAccount } : {}),
          nodeName: p.nodeName ?? DEFAULT_NODE,
          automountServiceAccountToken: false,
          containers: [{ name: "app", image: "registry.invalid/app:1" }],
        },
      },
    });
    await this.setReady(p.namespace, p.name, p.ready ?? true, p.ip);
  }

  /** Writes a Pod's status: Running with its IP, Ready or not. */
  async setReady(namespace: string, name: string, ready: boolean, ip?: string): Promise<void> {
    const pod: V1Pod = await this.core.readNamespacedPodStatus({ namespace, name });
    const podIP = ip ?? pod.status?.podIP;
    const now = new Date();
    pod.status = {
      ...pod.status,
      phase: "Running",
      ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
      conditions: [
        { type: "Ready", status: ready ? "True" : "False", lastTransitionTime: now },
        { type: "ContainersReady", status: ready ? "True" : "False", lastTransitionTime: now },
      ],
    };
    await this.core.replaceNamespacedPodStatus({ namespace, name, body: pod });
  }

  /** Deletes a Pod at once. */
  async deletePod(namespace: string, name: string): Promise<void> {
    await this.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
  }
}

function ignoreExists(err: unknown): void {
  const code = (err as { code?: number }).code;
  if (code !== 409) throw err;
}
