// The PDP's HTTP(S) server: routing, client authentication, X-Request-ID, error handling. Every
// failure ends in an OPA-shaped error body and a log line; nothing escapes as a crash or a hang.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import {
  EVALUATION_PATH,
  EVALUATIONS_PATH,
  handleEvaluation,
  handleEvaluations,
  handleMetadata,
  METADATA_PATH,
} from "./authzen.js";
import { CachedDecider, type DecisionCache } from "../cache/index.js";
import { createDecisionLogger, type DecisionLogger } from "../decision_log/index.js";
import { clientAuthenticator } from "./client_auth.js";
import type { PdpConfig } from "./config.js";
import { stderrLogger, type PdpContext, type PdpLogger } from "./context.js";
import { serveBundle, type BundleRegistry } from "../bundle/serve.js";
import { handleData } from "./data_api.js";
import { handleHealth, handleStatus } from "./health.js";
import type { PolicyStore } from "./policy_store.js";
import { HttpError, sendOpaError } from "./respond.js";

export interface PdpServerOptions {
  config: PdpConfig;
  store: PolicyStore;
  log?: PdpLogger;
  /** Reported as provenance.version; default "dev". */
  version?: string;
  /** The status labels' id (default: a fresh uuid); also the decision logs' `labels.id`. */
  instanceId?: string;
  /**
   * Logs one event per evaluation. startPdpServer makes one from `config.decision_logs` when this is
   * not given (and closes it with the server); a logger given here is the caller's to close.
   */
  decisionLog?: DecisionLogger;
  /** Configured bundles: served at `GET /bundles/{name}` and reported by `GET /v1/status`. */
  bundles?: BundleRegistry;
  /**
   * A decision cache for the Data API (pdp/cache: the L1 LruDecisionCache, or an L2): keyed on the active
   * revision, the path and the input; see data_cache.ts for the bounds. Absent = every request evaluates.
   */
  cache?: { store: DecisionCache; ttl_s: number };
}

export interface RunningPdp {
  server: Server;
  /** Base URL, e.g. http://127.0.0.1:8181 (the bound port when 0 was asked). */
  url: string;
  host: string;
  port: number;
  /** The decision logger in use, if decision logging is on (reopen() it on SIGHUP). */
  decisionLog?: DecisionLogger;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, q: URLSearchParams) => Promise<void> | void;

interface Route {
  methods: Record<string, Handler>;
  /** Served without client authentication: readiness probes and the AuthZEN metadata reveal no policy. */
  public?: boolean;
}

/** The request handler, for a server of one's own (tests, the bench, `serve` in-process later). */
export function createPdpHandler(o: PdpServerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const ctx: PdpContext = {
    config: o.config,
    store: o.store,
    log: o.log ?? stderrLogger,
    version: o.version ?? "dev",
    instanceId: o.instanceId ?? randomUUID(),
    ...(o.decisionLog ? { decisionLog: o.decisionLog } : {}),
    ...(o.bundles ? { bundles: o.bundles } : {}),
    ...(o.cache && o.cache.ttl_s > 0
      ? { cache: new CachedDecider({ cache: o.cache.store, ttlS: o.cache.ttl_s }) }
      : {}),
  };
  const authenticate = clientAuthenticator(o.config.auth);

  const data: Route = {
    methods: {
      GET: (req, res, q) => handleData(req, res, dataPath(req), q, ctx),
      POST: (req, res, q) => handleData(req, res, dataPath(req), q, ctx),
    },
  };
  // The active bundle for remote PEPs (pdp/bundle/serve.ts); it is the whole policy, so it needs
  // client authentication like the Data API.
  const bundle: Route = {
    methods: {
      GET: async (req, res) => {
        const raw = req.url ?? "";
        const qi = raw.indexOf("?");
        const name = (qi < 0 ? raw : raw.slice(0, qi)).slice("/bundles/".length);
        if (!(await serveBundle(req, res, name, o.bundles))) {
          throw new HttpError(404, "resource_not_found", `bundle not found: ${name}`);
        }
      },
    },
  };
  const routes = new Map<string, Route>([
    ["/health", { public: true, methods: { GET: (req, res, q) => handleHealth(req, res, q, ctx) } }],
    [METADATA_PATH, { public: true, methods: { GET: (req, res) => handleMetadata(req, res, ctx) } }],
    ["/v1/status", { methods: { GET: (req, res, q) => handleStatus(req, res, q, ctx) } }],
    [EVALUATION_PATH, { methods: { POST: (req, res) => handleEvaluation(req, res, ctx) } }],
    [EVALUATIONS_PATH, { methods: { POST: (req, res) => handleEvaluations(req, res, ctx) } }],
  ]);

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rawUrl = req.url ?? "/";
    const qi = rawUrl.indexOf("?");
    const path = qi < 0 ? rawUrl : rawUrl.slice(0, qi);
    const q = new URLSearchParams(qi < 0 ? "" : rawUrl.slice(qi + 1));

    const route =
      path === "/v1/data" || path.startsWith("/v1/data/")
        ? data
        : path.startsWith("/bundles/")
          ? bundle
          : routes.get(path);
    if (!route) throw new HttpError(404, "resource_not_found", `not found: ${req.method ?? ""} ${path}`);
    if (!route.public) {
      const auth = await authenticate(req);
      if (!auth.ok) {
        ctx.log({
          level: "warn",
          msg: "client not authenticated",
          path,
          remote: req.socket.remoteAddress,
          reason: auth.message,
        });
        const code = auth.status === 401 ? "unauthorized" : "internal_error";
        throw new HttpError(auth.status, code, auth.message, auth.headers);
      }
    }
    const handler = Object.prototype.hasOwnProperty.call(route.methods, req.method ?? "")
      ? route.methods[req.method!]
      : undefined;
    if (!handler) {
      throw new HttpError(405, "invalid_operation", `method ${req.method ?? ""} not allowed on ${path}`, {
        allow: Object.keys(route.methods).join(", "),
      });
    }
    await handler(req, res, q);
  };

  return (req, res) => {
    // AuthZEN: a request's X-Request-ID comes back on its response, errors included.
    const requestId = req.headers["x-request-id"];
    if (typeof requestId === "string") {
      try {
        res.setHeader("x-request-id", requestId);
      } catch {
        // A value Node will not write back is dropped rather than failing the request.
      }
    }
    serve(req, res).catch((e: unknown) => {
      if (e instanceof HttpError) {
        sendOpaError(res, e.status, { code: e.code, message: e.message }, e.headers);
        if (e.status >= 500) ctx.log({ level: "error", msg: e.message, path: req.url });
        return;
      }
      ctx.log({
        level: "error",
        msg: "request failed",
        path: req.url,
        error: e instanceof Error ? e.stack : String(e),
      });
      sendOpaError(res, 500, { code: "internal_error", message: "internal error (see the PDP log)" });
    });
  };
}

/** The escaped path below /v1/data (OPA decodes each segment itself, so %2F stays inside one). */
function dataPath(req: IncomingMessage): string {
  const raw = req.url ?? "";
  const qi = raw.indexOf("?");
  return (qi < 0 ? raw : raw.slice(0, qi)).slice("/v1/data".length);
}

/** Starts listening (HTTPS when `tls` is configured); resolves once bound. */
export async function startPdpServer(o: PdpServerOptions): Promise<RunningPdp> {
  const { config } = o;
  const instanceId = o.instanceId ?? randomUUID();
  // Made before listening: a decision-log file that cannot be opened is a start-up error.
  const ownLog =
    o.decisionLog === undefined && config.decision_logs
      ? createDecisionLogger(config.decision_logs, {
          id: instanceId,
          version: o.version ?? "dev",
          log: o.log ?? stderrLogger,
        })
      : undefined;
  const decisionLog = o.decisionLog ?? ownLog;
  const handler = createPdpHandler({ ...o, instanceId, ...(decisionLog ? { decisionLog } : {}) });
  const server = config.tls ? createHttpsServer(tlsOptions(config), handler) : createHttpServer(handler);
  // Bounded header size and idle times: a slow or oversized client cannot hold the PDP.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  }).catch(async (e: unknown) => {
    await ownLog?.close();
    throw e;
  });
  const addr = server.address() as AddressInfo;
  const host = addr.address.includes(":") ? `[${addr.address}]` : addr.address;
  const url = `${config.tls ? "https" : "http"}://${host}:${addr.port}`;
  return {
    server,
    url,
    host: addr.address,
    port: addr.port,
    ...(decisionLog ? { decisionLog } : {}),
    // The logger closes after the last request, so the last decisions are in its final flush.
    close: () => closeServer(server).then(() => ownLog?.close()),
  };
}

function tlsOptions(config: PdpConfig) {
  const tls = config.tls!;
  const mtls = config.auth.type === "mtls";
  return {
    cert: readFileSync(tls.cert),
    key: readFileSync(tls.key),
    ...(tls.client_ca.length > 0 ? { ca: tls.client_ca.map((f) => readFileSync(f)) } : {}),
    // The handshake asks for a certificate but lets an unverified client finish, so that it gets a
    // 401 with a reason instead of a bare TLS alert; no request is served unless the chain verified.
    requestCert: mtls,
    rejectUnauthorized: false,
    minVersion: "TLSv1.2" as const,
  };
}

/** Stops accepting, lets in-flight requests finish, then cuts what is left after a grace period. */
function closeServer(server: Server, graceMs = 5_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
