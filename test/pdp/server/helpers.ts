// Helpers for PDP server tests: a real server on 127.0.0.1 port 0 and real HTTP(S) requests.
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { loadPaths } from "../../../cli/load.js";
import {
  compileRevision,
  PDP_DEFAULTS,
  PolicyStore,
  startPdpServer,
  type LogEvent,
  type PdpConfig,
  type RunningPdp,
} from "../../../pdp/server/index.js";
import type { ModuleSource } from "../../../pdp/rego/index.js";

export const REPO = resolve(import.meta.dirname, "../../..");

export function testConfig(over: Partial<PdpConfig> = {}): PdpConfig {
  return {
    listen: { host: "127.0.0.1", port: 0 },
    policies: [],
    auth: { type: "none" },
    limits: {
      max_body_bytes: PDP_DEFAULTS.max_body_bytes,
      max_depth: PDP_DEFAULTS.max_depth,
      eval_timeout_ms: PDP_DEFAULTS.eval_timeout_ms,
      max_evaluations: PDP_DEFAULTS.max_evaluations,
    },
    authzen: { entrypoint: PDP_DEFAULTS.entrypoint },
    ...over,
  };
}

export interface TestPdp {
  pdp: RunningPdp;
  store: PolicyStore;
  logs: LogEvent[];
  close(): Promise<void>;
}

/** Starts a PDP; `modules`/`data` become its active revision unless `load` is false. */
export async function startTestPdp(o: {
  config?: Partial<PdpConfig>;
  modules?: ModuleSource[];
  data?: unknown;
  load?: boolean;
}): Promise<TestPdp> {
  const store = new PolicyStore();
  if (o.load !== false) {
    store.activate(
      compileRevision({ modules: o.modules ?? [], data: o.data ?? {}, name: "portcullis", source: "test" }),
    );
  }
  const logs: LogEvent[] = [];
  const pdp = await startPdpServer({
    config: testConfig(o.config),
    store,
    log: (e) => logs.push(e),
    version: "9.9.9",
  });
  return { pdp, store, logs, close: () => pdp.close() };
}

/** The shipped policies (policies/, so data.json lands at data.portcullis). */
export function shippedPolicy(): { modules: ModuleSource[]; data: unknown } {
  const loaded = loadPaths([resolve(REPO, "policies")]);
  return { modules: loaded.modules.filter((m) => !m.file.endsWith("_test.rego")), data: loaded.data };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
}

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A string or Buffer is sent as is; anything else as JSON. */
  body?: unknown;
  gzip?: boolean;
  /** TLS: the CA to trust and an optional client certificate. */
  ca?: string;
  cert?: string;
  key?: string;
}

/** One request on a fresh connection. */
export function call(base: string, path: string, o: CallOptions = {}): Promise<Reply> {
  const url = new URL(path, base);
  let body: Buffer | undefined;
  if (o.body !== undefined) {
    body =
      typeof o.body === "string"
        ? Buffer.from(o.body)
        : Buffer.isBuffer(o.body)
          ? o.body
          : Buffer.from(JSON.stringify(o.body));
    if (o.gzip) body = gzipSync(body);
  }
  const headers: Record<string, string> = {
    ...(body !== undefined
      ? { "content-type": "application/json", "content-length": String(body.length) }
      : {}),
    ...(o.gzip ? { "content-encoding": "gzip" } : {}),
    ...o.headers,
  };
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolveReply, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: o.method ?? (body !== undefined ? "POST" : "GET"),
        headers,
        agent: false,
        ...(url.protocol === "https:" ? { ca: o.ca, cert: o.cert, key: o.key, servername: "localhost" } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolveReply({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
