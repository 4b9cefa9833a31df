// Certificate reload without restart: one segment's TLS material, swapped as a whole when its files change
// (file watch, SIGHUP, or an explicit call). New material is validated before it is used; anything wrong
// with it is logged and the previous material keeps serving. Open connections keep the TLS session they
// have; their verified identity is re-checked against the new bundles at their next request (tls.ts).
import { watch, watchFile, unwatchFile, realpathSync, type FSWatcher } from "node:fs";
import { dirname } from "node:path";
import type { SegmentTls } from "../config/index.js";
import type { Logger } from "./app.js";
import {
  buildTlsMaterial,
  readTlsFiles,
  tlsFiles,
  type TlsMaterial,
  type TrustAnchors,
  type TrustSource,
} from "./tls.js";

export type ReloadTrigger = "api" | "signal" | "file";

export type ReloadResult =
  { ok: true; changed: boolean; serial: string } | { ok: false; error: string; serial: string };

export interface ReloaderOptions {
  segment: string;
  tls: SegmentTls;
  initial: TlsMaterial;
  /** Hands validated material to the listener (`server.setSecureContext`). */
  apply: (m: TlsMaterial) => void;
  log: Logger;
}

// Polling is the fallback where directory watches are unavailable (some network file systems).
const POLL_MS = 2000;

export class TlsReloader implements TrustSource {
  private material: TlsMaterial;
  private gen = 0;
  /** The fingerprint (or read error) last refused, so a watcher does not log the same refusal repeatedly. */
  private lastRefused: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private watchers: FSWatcher[] = [];
  private polled: string[] = [];

  constructor(private readonly o: ReloaderOptions) {
    this.material = o.initial;
  }

  get anchors(): TrustAnchors {
    return this.material.anchors;
  }

  get generation(): number {
    return this.gen;
  }

  get current(): TlsMaterial {
    return this.material;
  }

  /**
   * Re-reads cert, key and bundles. With `onlyIfChanged` (the watcher), files identical to the ones in use
   * are not re-applied; a signal or an API call re-applies regardless, which is harmless.
   */
  reload(trigger: ReloadTrigger, onlyIfChanged = false): ReloadResult {
    const { segment, tls, log } = this.o;
    let read;
    try {
      read = readTlsFiles(tls);
    } catch (e) {
      const message = (e as Error).message;
      return this.refuse(trigger, message, message, onlyIfChanged);
    }
    if (onlyIfChanged && read.fingerprint === this.material.fingerprint) {
      this.lastRefused = undefined;
      return { ok: true, changed: false, serial: this.serial() };
    }
    let next: TlsMaterial;
    try {
      next = buildTlsMaterial(tls, read);
      this.o.apply(next);
    } catch (e) {
      return this.refuse(trigger, read.fingerprint, (e as Error).message, onlyIfChanged);
    }
    const changed = next.fingerprint !== this.material.fingerprint;
    this.material = next;
    this.gen += 1;
    this.lastRefused = undefined;
    log({
      segment,
      event: "tls_reloaded",
      trigger,
      changed,
      serial: this.serial(),
      not_after: next.serverCert.validTo,
      trust_domains: [...next.anchors.bundles.keys()],
    });
    return { ok: true, changed, serial: this.serial() };
  }

  private serial(): string {
    return this.material.serverCert.serialNumber;
  }

  /** Logs a refusal, except a watcher's repeat of the one just logged (same files, same fault). */
  private refuse(trigger: ReloadTrigger, key: string, error: string, quietRepeat: boolean): ReloadResult {
    if (!(quietRepeat && key === this.lastRefused)) {
      this.o.log({
        segment: this.o.segment,
        event: "tls_reload_rejected",
        trigger,
        error,
        serving_serial: this.serial(),
      });
    }
    this.lastRefused = key;
    return { ok: false, error, serial: this.serial() };
  }

  /**
   * Reloads when a file changes, after `debounceMs` of quiet (a cert and its key are written one after
   * the other). Watches the directories rather than the files: replacing a file by rename, or a
   * Kubernetes secret's `..data` symlink swap, ends a watch on the old file but shows in its directory.
   */
  watch(debounceMs = 250): void {
    const dirs = new Set<string>();
    for (const f of tlsFiles(this.o.tls)) {
      dirs.add(dirname(f));
      try {
        dirs.add(dirname(realpathSync(f)));
      } catch {
        // A file missing now is reported by the reload that its creation triggers.
      }
    }
    const schedule = () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload("file", true), debounceMs);
      this.timer.unref();
    };
    for (const dir of dirs) {
      try {
        const w = watch(dir, { persistent: false }, schedule);
        w.on("error", (e) => {
          this.o.log({ segment: this.o.segment, event: "tls_watch_error", dir, error: e.message });
          w.close();
          this.poll(dir, schedule);
        });
        this.watchers.push(w);
      } catch (e) {
        this.o.log({ segment: this.o.segment, event: "tls_watch_error", dir, error: (e as Error).message });
        this.poll(dir, schedule);
      }
    }
  }

  private poll(dir: string, onChange: () => void): void {
    for (const f of tlsFiles(this.o.tls).filter((f) => dirname(f) === dir)) {
      watchFile(f, { persistent: false, interval: POLL_MS }, onChange);
      this.polled.push(f);
    }
  }

  /** Stops watching (the listener is closing). */
  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    for (const f of this.polled) unwatchFile(f);
    this.watchers = [];
    this.polled = [];
  }
}
