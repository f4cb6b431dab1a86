// A pod's program in the interop tests' Kubernetes world: a gRPC echo server
// at the pod's address, answering with its name. Run inside the pods' network
// namespace: node interop/dist/kube/pod-backend.js NAME IP PORT
import { grpcBackend } from "../harness/backends.js";

const [name = "pod", ip = "127.0.0.1", port = "0"] = process.argv.slice(2);
const backend = await grpcBackend(name, ip, Number(port));
console.log(`serving ${name} on ${ip}:${backend.port}`);
// A pod lives until the test kills it; never longer than the test run.
setTimeout(() => process.exit(0), 30 * 60_000).unref();
process.on("SIGTERM", () => void backend.stop().then(() => process.exit(0)));
setInterval(() => {}, 60_000);
