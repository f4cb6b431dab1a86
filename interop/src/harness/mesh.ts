// Mesh files for the pilot, written as JSON (a YAML document too) from the
// model's own types, so a test says what it configures in the model's terms.
import type { RouteRule, Service, ServiceEndpoint } from "@xdskit/config-generator";
import type { Backend } from "./backends.js";

/** The mesh file text for services and routes. */
export function meshText(services: readonly Service[], routes: readonly RouteRule[] = []): string {
  return `${JSON.stringify({ services, routes }, null, 1)}\n`;
}

/** A gRPC service whose endpoints are the given backends on 127.0.0.1 (each with `extra` fields). */
export function grpcService(
  name: string,
  backends: readonly Backend[],
  policy: Partial<Omit<Service, "name" | "endpoints">> = {},
  endpoint: (b: Backend, i: number) => Partial<ServiceEndpoint> = () => ({}),
): Service {
  return {
    name,
    protocol: "grpc",
    endpoints: backends.map((b, i) => ({ address: "127.0.0.1", port: b.port, ...endpoint(b, i) })),
    ...policy,
  };
}
