// `portcullis pdp`: the PDP alone as an HTTP service (OPA Data API, AuthZEN, health, status).
// Quick form: `--policies DIR [--listen ADDR]`; full form: `--config FILE` (YAML).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  compileRevision,
  loadPdpConfig,
  PdpConfigError,
  pdpConfigFromObject,
  PolicyStore,
  startPdpServer,
  type PdpConfig,
  type PdpLogger,
  type RunningPdp,
} from "../pdp/server/index.js";
import { isLoopbackHost } from "../lib/loopback.js";
import { LruDecisionCache } from "../pdp/cache/index.js";
import { BundleError, BundleSet } from "../pdp/bundle/index.js";
import { formatErrors } from "./errors.js";
import { untilSignal } from "./signals.js";
import { UsageError, type ExitCode, type IO } from "./io.js";
import { loadPaths } from "./load.js";
import { packageRoot } from "./paths.js";

export const pdpUsage = `Usage: portcullis pdp --policies PATH [--listen HOST:PORT] [options]
       portcullis pdp --config FILE

Serves the policy decision point over HTTP(S): OPA's Data API (POST/GET
/v1/data/{path}), OpenID AuthZEN 1.0 (/access/v1/evaluation[s],
/.well-known/authzen-configuration), GET /health and GET /v1/status.
See docs/pdp-api.md.

Quick form (no config file):
  -p, --policies PATH   policy and data files or directories (repeatable)
  -b, --bundle SRC      or an OPA bundle: a directory or bundle.tar.gz (watched)
                        or an http(s) URL (polled), served at /bundles/portcullis
  -l, --listen ADDR     host:port to listen on (default 127.0.0.1:8181)
  --entrypoint PATH     decision answering AuthZEN (default portcullis/authz/decision)
  --jwks FILE|URL       require bearer JWTs verified with this JWKS; needs
  --issuer ISS          the expected issuer and
  --audience AUD        the expected audience (repeatable)
  --tls-cert FILE       serve HTTPS with this certificate
  --tls-key FILE        and this key
  --client-ca FILE      require client certificates chained to this CA (mTLS)
Without --jwks or --client-ca clients are not authenticated, so the quick
form listens on loopback addresses only.

  -c, --config FILE     YAML config (listen, policies or bundles, tls, auth, limits,
                        authzen, decision_logs); \`auth\` is required there
                        SIGHUP reopens the decision-log file
`;

const QUICK_OPTIONS = [
  "policies",
  "bundle",
  "listen",
  "entrypoint",
  "jwks",
  "issuer",
  "audience",
  "tls-cert",
  "tls-key",
  "client-ca",
];

/** The quick-form flags as a config object, validated by the same rules as a config file. */
function quickConfig(values: Record<string, string | string[] | boolean | undefined>): PdpConfig {
  const raw: Record<string, unknown> = {};
  if (values.listen !== undefined) raw.listen = values.listen;
  raw.policies = values.policies;
  if (values.bundle !== undefined) raw.bundles = [{ name: "portcullis", source: values.bundle }];
  if (values.entrypoint !== undefined) raw.authzen = { entrypoint: values.entrypoint };
  if (
    values["tls-cert"] !== undefined ||
    values["tls-key"] !== undefined ||
    values["client-ca"] !== undefined
  ) {
    raw.tls = {
      cert: values["tls-cert"],
      key: values["tls-key"],
      ...(values["client-ca"] !== undefined ? { client_ca: values["client-ca"] } : {}),
    };
  }
  const jwks = values.jwks as string | undefined;
  if (jwks !== undefined && values["client-ca"] !== undefined) {
    throw new UsageError("choose one client authentication: --jwks (bearer) or --client-ca (mTLS)");
  }
  if (jwks !== undefined) {
    raw.auth = {
      type: "bearer",
      ...(/^https?:\/\//i.test(jwks) ? { jwks_url: jwks } : { jwks_file: jwks }),
      issuer: values.issuer,
      audience: values.audience,
    };
  } else if (values["client-ca"] !== undefined) {
    raw.auth = { type: "mtls" };
  } else if (values.issuer !== undefined || values.audience !== undefined) {
    throw new UsageError("--issuer and --audience go with --jwks");
  }
  return pdpConfigFromObject(raw, "portcullis pdp", process.cwd());
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string })
      .version;
  } catch {
    return "dev";
  }
}

function describeAuth(config: PdpConfig): string {
  switch (config.auth.type) {
    case "none":
      return isLoopbackHost(config.listen.host)
        ? "client authentication: none (loopback only)"
        : "client authentication: none — WARNING: anyone who can reach this address can query the policy";
    case "mtls":
      return "client authentication: mTLS (client certificate required)";
    case "bearer":
      return `client authentication: bearer JWT (issuer ${config.auth.issuer}, audience ${config.auth.audience.join(" ")})`;
  }
}

export async function runPdp(argv: string[], io: IO): Promise<ExitCode> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string", short: "c" },
      policies: { type: "string", short: "p", multiple: true },
      bundle: { type: "string", short: "b" },
      listen: { type: "string", short: "l" },
      entrypoint: { type: "string" },
      jwks: { type: "string" },
      issuer: { type: "string" },
      audience: { type: "string", multiple: true },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "client-ca": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    io.out(pdpUsage);
    return 0;
  }
  const quick = QUICK_OPTIONS.filter((k) => (values as Record<string, unknown>)[k] !== undefined);
  if (values.config !== undefined && quick.length > 0) {
    throw new UsageError(`--config cannot be combined with --${quick.join(", --")}`);
  }
  if (values.config === undefined && values.policies === undefined && values.bundle === undefined) {
    throw new UsageError("--policies PATH, --bundle SRC or --config FILE is required");
  }

  const log: PdpLogger = (event) =>
    io.err(JSON.stringify({ time: new Date().toISOString(), ...event }) + "\n");
  const store = new PolicyStore();
  let config: PdpConfig;
  let pdp: RunningPdp;
  let bundles: BundleSet | undefined;
  try {
    config = values.config !== undefined ? loadPdpConfig(values.config) : quickConfig(values);
    if (config.bundles) {
      // A local bundle is loaded (and must be valid) before we listen; a URL is polled in the background.
      bundles = new BundleSet(config.bundles, store, log, { userAgent: `portcullis/${version()}` });
      await bundles.start();
    } else {
      const loaded = loadPaths(config.policies);
      const active = compileRevision({
        modules: loaded.modules,
        data: loaded.data,
        name: "portcullis",
        source: config.policies.join(","),
      });
      store.activate(active);
    }
    pdp = await startPdpServer({
      config,
      store,
      log,
      version: version(),
      ...(bundles ? { bundles } : {}),
      ...(config.cache
        ? {
            cache: {
              store: new LruDecisionCache({ maxEntries: config.cache.max_entries }),
              ttl_s: config.cache.ttl_s,
            },
          }
        : {}),
    });
  } catch (e) {
    await bundles?.stop();
    if (e instanceof UsageError) throw e;
    if (e instanceof BundleError) {
      const more = e.details.length > 1 ? e.details.map((l) => `  ${l}\n`).join("") : "";
      io.err(`portcullis pdp: bundle rejected: ${e.message}\n${more}`);
      return 1;
    }
    io.err(e instanceof PdpConfigError ? `${e.message}\n` : `portcullis pdp: ${formatErrors(e)}`);
    return 1;
  }
  const active = store.current();
  if (bundles) {
    const b = config.bundles![0]!;
    const from = b.source.type === "http" ? b.source.url : b.source.path;
    const rev = active ? `revision ${active.revision}` : "not activated yet";
    io.out(`pdp: listening on ${pdp.url} (bundle ${b.name} from ${from}, ${rev})\n`);
  } else {
    io.out(`pdp: listening on ${pdp.url} (policies ${active!.source}, revision ${active!.revision})\n`);
  }
  io.out(`pdp: ${describeAuth(config)}\n`);
  if (config.auth.type === "bearer" && !config.tls && !isLoopbackHost(config.listen.host)) {
    io.out("pdp: WARNING: bearer tokens over plain HTTP on a non-loopback address; configure tls\n");
  }
  if (config.decision_logs) io.out(`pdp: decision logs: ${describeDecisionLogs(config.decision_logs)}\n`);
  // SIGHUP reopens the decision-log file (logrotate moved it); it must not end the process either way.
  const onHangup = () => {
    pdp.decisionLog?.reopen();
    for (const b of bundles?.all() ?? []) void b.reload(); // and rereads or re-polls the bundle
  };
  process.on("SIGHUP", onHangup);
  const sig = await untilSignal();
  process.off("SIGHUP", onHangup);
  io.out(`pdp: ${sig}, shutting down\n`);
  await bundles?.stop();
  await pdp.close();
  return 0;
}

function describeDecisionLogs(c: NonNullable<PdpConfig["decision_logs"]>): string {
  const sinks = [
    ...(c.console ? ["console"] : []),
    ...(c.file ? [`file ${c.file.path}`] : []),
    ...(c.service ? [`service ${c.service.url}`] : []),
  ];
  return sinks.join(", ");
}
