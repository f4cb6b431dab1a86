// A service source of your own: it polls an HTTP inventory that lists
// services as JSON, and tells the controller what changed. Built on Node's
// EventEmitter — any object with on/off for "change" and "rejected" will do.
import { EventEmitter } from "node:events";
import type { ChangeKind, Service, ServiceRegistry } from "@xdskit/config-generator";

/** A service source backed by an HTTP endpoint answering `GET /services` with `Service[]` as JSON. */
export class InventorySource extends EventEmitter implements ServiceRegistry {
  #services: readonly Service[] = [];
  #loaded = false;
  #last = "";
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly url: string,
    pollMs = 200,
  ) {
    super();
    this.#timer = setInterval(() => void this.poll(), pollMs);
    this.#timer.unref();
  }

  /** Nothing is served before the inventory answered once. */
  ready(): boolean {
    return this.#loaded;
  }

  services(): readonly Service[] {
    return this.#services;
  }

  /** Fetches the inventory now; a failure is reported and the last good list stays. */
  async poll(): Promise<void> {
    let text: string;
    try {
      const res = await fetch(`${this.url}/services`);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      text = await res.text();
    } catch (err) {
      this.emit("rejected", {
        reason: "inventory unreachable",
        error: err instanceof Error ? err : new Error(String(err)),
      });
      return;
    }
    if (text === this.#last) return;
    let next: Service[];
    try {
      next = JSON.parse(text) as Service[];
    } catch (err) {
      this.emit("rejected", { reason: "inventory answered something that is not JSON", error: err as Error });
      return;
    }
    // What changed decides what is rebuilt: endpoints alone → EDS only.
    const shape = (list: readonly Service[]) =>
      JSON.stringify(list.map((s) => [s.name, s.port, s.protocol, s.metadata]));
    const kinds: ChangeKind[] = shape(next) === shape(this.#services) ? ["endpoints"] : ["services", "endpoints"];
    this.#last = text;
    this.#services = next;
    this.#loaded = true;
    // The controller validates what we hand it, exactly like a mesh file.
    this.emit("change", { kinds, reason: `inventory at ${this.url} changed` });
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
