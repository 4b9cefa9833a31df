// The bundles of one PDP: a manager per configured bundle, started together, looked up by name for
// `GET /bundles/{name}` and the status API, stopped together.
import type { BundleConfig } from "./config.js";
import { BundleManager, type BundleEvent } from "./manager.js";
import type { BundleRegistry } from "./serve.js";
import type { BundleLogger, RevisionSink } from "./types.js";

export class BundleSet implements BundleRegistry {
  private readonly managers: BundleManager[];

  constructor(
    configs: readonly BundleConfig[],
    sink: RevisionSink,
    log: BundleLogger,
    opts: { debounceMs?: number; userAgent?: string } = {},
  ) {
    this.managers = configs.map((config) => new BundleManager({ config, sink, log, ...opts }));
  }

  get(name: string): BundleManager | undefined {
    return this.managers.find((m) => m.name === name);
  }

  all(): BundleManager[] {
    return [...this.managers];
  }

  /** Starts every bundle; a local bundle that fails its first load stops them all and is thrown. */
  async start(): Promise<void> {
    try {
      for (const m of this.managers) await m.start();
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.managers.map((m) => m.stop()));
  }

  onEvent(listener: (e: BundleEvent) => void): () => void {
    const offs = this.managers.map((m) => m.onEvent(listener));
    return () => offs.forEach((off) => off());
  }
}
