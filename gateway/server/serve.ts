// Starts one HTTPS listener per segment. The policy comes in compiled: loading it is the caller's job, so
// a policy error is a start-up error, reported before any port opens.
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Config, Segment } from "../config/index.js";
import { createSegmentApp, type Logger } from "./app.js";
import { upgradeHandler } from "./upgrade.js";
import {
  createDecisionLogger,
  PepDecisionLog,
  type DecisionHook,
  type DecisionLogger,
} from "../../pdp/decision_log/index.js";
import { cachedPdp, pdpWithCache, type Pdp } from "./enforce.js";
import { createTieredCache, type TieredDecisionCache } from "../../pdp/cache/index.js";
import { TlsReloader, type ReloadResult, type ReloadTrigger } from "./reload.js";
import { listenerTlsOptions, loadTlsMaterial, verifyPeerAtHandshake } from "./tls.js";

export type { ReloadResult } from "./reload.js";

export interface SegmentOptions {
  /** Reload cert, key and bundles when their files change (off by default; `portcullis serve` turns it on). */
  watch?: boolean;
  /** Quiet time after the last file event before reloading (default 250 ms). */
  watchDebounceMs?: number;
  /** Told every policy decision (decision logs; startGateway sets it from `decision_logs:`). */
  onDecision?: DecisionHook;
}

export interface RunningSegment {
  segment: Segment;
  server: Server;
  /** The bound port (differs from the config's when it asked for port 0). */
  port: number;
  /**
   * Re-reads cert, key and trust bundles; new handshakes use them, open connections keep their TLS session.
   * Invalid new material is refused (logged, and the previous material keeps serving); never throws.
   */
  reload(trigger?: ReloadTrigger): ReloadResult;
}

export interface RunningGateway {
  segments: RunningSegment[];
  /** The PDP the segments decide with: the configured one behind the decision cache (`cache:`), if on. */
  pdp: Pdp;
  /** The L1 + Redis L2 when `cache.redis` is set (its `stats()` counts L2 failures). */
  decisionCache?: TieredDecisionCache;
  /**
   * Revokes a subject's cached decisions: this process's L1, Redis, and every replica's L1 (pub/sub).
   * Rejects when Redis could not be reached. Resolves to the number of entries deleted.
   */
  revokeSubject(subject: string): Promise<number>;
  /** `reload()` of every segment (what SIGHUP does; a signal also reopens the decision-log file). */
  reload(trigger?: ReloadTrigger): ReloadResult[];
  /** The decision logger, when `decision_logs:` turned it on. */
  decisionLog?: DecisionLogger;
  close(): Promise<void>;
}

const defaultLog: Logger = (e) => console.error(JSON.stringify(e));

export async function startSegment(
  segment: Segment,
  pdp: Pdp,
  log?: Logger,
  options: SegmentOptions = {},
): Promise<RunningSegment> {
  const logger = log ?? defaultLog;
  const closers: (() => Promise<void>)[] = [];
  const app = createSegmentApp({
    segment,
    pdp,
    log,
    ...(options.onDecision ? { onDecision: options.onDecision } : {}),
    onClose: (c) => void closers.push(c),
  });
  // Read and validated now, so a bad file fails start-up rather than the first handshake.
  const initial = loadTlsMaterial(segment.tls);
  const server = createServer(
    {
      ...initial.context,
      ...listenerTlsOptions(segment.tls),
      maxHeaderSize: Math.max(segment.limits.max_header_bytes, 1024),
    },
    app,
  );
  // WebSocket handshakes never reach Express by themselves; upgrade.ts runs them through the same app.
  server.on("upgrade", upgradeHandler(app, { segment: segment.name, log: logger }));
  const tls = new TlsReloader({
    segment: segment.name,
    tls: segment.tls,
    initial,
    apply: (m) => server.setSecureContext(m.context),
    log: logger,
  });
  if (segment.tls.client_auth !== "none") {
    // Every connection's peer is checked once, here, against the trust material of its handshake; the app
    // reads the verdict. Under `require`, a chain node:tls accepted that is not an SVID of a configured
    // trust domain anchored in that domain's own bundle is refused before any request is read: prepended,
    // so this runs before node:https attaches its HTTP parser to the socket.
    server.prependListener("secureConnection", (socket: TLSSocket) => {
      const peer = verifyPeerAtHandshake(socket, tls);
      if (typeof peer === "string" && segment.tls.client_auth === "require") {
        logger({
          segment: segment.name,
          event: "peer_rejected",
          reason: peer,
          remote: `${socket.remoteAddress}:${socket.remotePort}`,
        });
        socket.destroy();
      }
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(segment.port, segment.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  if (options.watch) tls.watch(options.watchDebounceMs);
  server.on("close", () => {
    tls.close();
    for (const c of closers) {
      c().catch((e: unknown) => logger({ segment: segment.name, event: "close_error", error: String(e) }));
    }
  });
  return {
    segment,
    server,
    port: (server.address() as AddressInfo).port,
    reload: (trigger = "api") => tls.reload(trigger),
  };
}

export async function startGateway(
  config: Config,
  pdp: Pdp,
  log?: Logger,
  options: SegmentOptions = {},
): Promise<RunningGateway> {
  const segments: RunningSegment[] = [];
  // Decision logs are off unless configured, as in OPA. The logger watches the PDP on both sides of the
  // decision cache, so that an event says whether the cache answered.
  const decisionLog = config.decision_logs
    ? createDecisionLogger(config.decision_logs, { log: log ?? defaultLog })
    : undefined;
  const pep = decisionLog
    ? new PepDecisionLog(decisionLog, { entrypoint: config.pdp.entrypoint })
    : undefined;
  // One decision cache for every segment (the segment name is part of each input, hence of each key).
  // With `cache.redis`, L1 + Redis L2 + invalidations; never waits for Redis (down = decide without it).
  const c = config.cache;
  const tiered =
    c.redis !== undefined && c.ttl_s > 0
      ? createTieredCache({
          endpoint: c.redis,
          maxEntries: c.max_entries,
          ...(c.key_prefix !== undefined ? { keyPrefix: c.key_prefix } : {}),
          ...(c.timeout_ms !== undefined ? { timeoutMs: c.timeout_ms } : {}),
        })
      : undefined;
  const withCache = (p: Pdp): Pdp => (tiered ? cachedPdp(p, tiered, { ttlS: c.ttl_s }) : pdpWithCache(p, c));
  const decider = pep ? pep.wrap(pdp, withCache) : withCache(pdp);
  const segmentOptions = pep ? { ...options, onDecision: pep.hook } : options;
  try {
    for (const s of config.segments) segments.push(await startSegment(s, decider, log, segmentOptions));
  } catch (e) {
    await Promise.all(segments.map((r) => closeServer(r.server)));
    await decisionLog?.close();
    await tiered?.close();
    throw e;
  }
  return {
    segments,
    pdp: decider,
    ...(tiered ? { decisionCache: tiered } : {}),
    revokeSubject: async (subject) => {
      if (tiered) return tiered.deleteSubject(subject);
      const cache = (decider as { cache?: { deleteSubject(s: string): number | Promise<number> } }).cache;
      return cache ? cache.deleteSubject(subject) : 0;
    },
    ...(decisionLog ? { decisionLog } : {}),
    reload: (trigger) => {
      if (trigger === "signal") decisionLog?.reopen();
      return segments.map((s) => s.reload(trigger));
    },
    // The logger closes after the listeners, so the last requests' decisions are in its final flush.
    close: () =>
      Promise.all(segments.map((r) => closeServer(r.server)))
        .then(() => decisionLog?.close())
        .then(() => tiered?.close()),
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
