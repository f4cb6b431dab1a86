import type { EventEmitter } from "eventemitter3";
import type { ChangeKind, RouteRule, Service } from "./model.js";

/** A change reported by a source. */
export interface SourceChange {
  readonly kinds: readonly ChangeKind[];
  /** Readable cause, e.g. `file mesh.yaml changed` or `endpoints of echo`. */
  readonly reason: string;
}

/** Events every source emits. */
export interface SourceEvents {
  change: (change: SourceChange) => void;
  /** New input was refused; the last good state keeps being served. */
  rejected: (event: { reason: string; error: Error }) => void;
}

/** Where services and endpoints come from (Kubernetes, Consul, a file, your own). */
export interface ServiceRegistry extends Pick<EventEmitter<SourceEvents>, "on" | "off" | "once"> {
  /** Every service with its endpoints, as of now. */
  services(): readonly Service[];
}

/** Where routing rules come from. */
export interface ConfigStore extends Pick<EventEmitter<SourceEvents>, "on" | "off" | "once"> {
  /** Every routing rule, as of now. */
  routes(): readonly RouteRule[];
}
