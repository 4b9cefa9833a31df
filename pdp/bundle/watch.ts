// Noticing that a local bundle changed: file-system events (debounced, so a burst of writes is one
// reload) plus a periodic rescan, because events can be missed (network file systems, a watched
// directory replaced by a rename) — the rescan is the guarantee, events only make it fast.
import { watch, type FSWatcher } from "node:fs";

export interface WatchOptions {
  /** The directory to watch. */
  dir: string;
  recursive: boolean;
  /** Only events about this entry of `dir` count (a file source watches its parent directory). */
  only?: string;
  debounceMs: number;
  /** Periodic rescan; 0 = none. */
  intervalMs: number;
  onChange: () => void;
}

/** Starts watching; returns a function that stops it. */
export function watchForChanges(o: WatchOptions): () => void {
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let stopped = false;

  const fire = () => {
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = undefined;
      if (!stopped) o.onChange();
    }, o.debounceMs);
    debounce.unref();
  };

  const arm = () => {
    try {
      watcher = watch(o.dir, { recursive: o.recursive, persistent: false }, (_event, filename) => {
        if (o.only !== undefined && filename !== null && filename !== o.only) return;
        fire();
      });
      watcher.on("error", () => {
        // The directory went away or was replaced: the rescan re-arms the watcher.
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined;
    }
  };
  arm();

  const interval =
    o.intervalMs > 0
      ? setInterval(() => {
          if (!watcher) arm();
          o.onChange();
        }, o.intervalMs)
      : undefined;
  interval?.unref();

  return () => {
    stopped = true;
    if (debounce) clearTimeout(debounce);
    if (interval) clearInterval(interval);
    watcher?.close();
  };
}
