// `portcullis serve --config FILE`: validates the config and the policy, then runs every segment.
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, type Config } from "../gateway/config/index.js";
import { regoPdp, type Pdp } from "../gateway/server/enforce.js";
import { startGateway, type RunningGateway } from "../gateway/server/serve.js";
import { remotePdpFromConfig } from "../gateway/server/remote_pdp.js";
import { startTelemetry, type Telemetry } from "../gateway/telemetry/index.js";
import { policyRevision } from "../pdp/cache/index.js";
import { compile } from "../pdp/rego/index.js";
import { formatErrors } from "./errors.js";
import { untilSignal } from "./signals.js";
import { UsageError, type ExitCode, type IO } from "./io.js";
import { loadPaths } from "./load.js";

export const serveUsage = `Usage: portcullis serve --config FILE [--no-watch]

Runs the gateway: one HTTPS listener per segment of FILE (YAML). Config and
policy errors are reported before any port opens, and the exit code is 1.

TLS certificates, keys and trust bundles are reloaded without a restart on
SIGHUP and when their files change (--no-watch: on SIGHUP only). Invalid new
files are logged and the previous ones keep serving.

OpenTelemetry tracing is off unless the standard OTEL_* variables ask for it
(docs/telemetry.md); buffered spans are flushed on SIGINT/SIGTERM.
`;

/** Loads `pdp.policies` like `opa eval -d`, so a data.json lands under its directory's package path. */
export function loadPdp(config: Config): Pdp {
  // A remote PDP (`pdp.url`): decisions over its Data API, fail closed (gateway/server/remote_pdp.ts).
  if (config.pdp.url !== undefined) return remotePdpFromConfig(config.pdp);
  const loaded = loadPaths([config.pdp.policies]);
  // A content revision: replicas loading the same files share decision-cache keys; any edit changes them.
  return regoPdp(compile({ modules: loaded.modules, data: loaded.data }), config.pdp.entrypoint, {
    revision: policyRevision(loaded.modules, loaded.data),
  });
}

export async function runServe(argv: string[], io: IO): Promise<ExitCode> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string", short: "c" },
      "no-watch": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    io.out(serveUsage);
    return 0;
  }
  if (!values.config) throw new UsageError("--config FILE is required");
  let gateway: RunningGateway;
  let telemetry: Telemetry | undefined;
  try {
    const config = loadConfig(values.config);
    telemetry = await startTelemetry();
    gateway = await startGateway(config, loadPdp(config), undefined, { watch: !values["no-watch"] });
  } catch (e) {
    await telemetry?.shutdown();
    io.err(e instanceof ConfigError ? `${e.message}\n` : `portcullis serve: ${formatErrors(e)}`);
    return 1;
  }
  if (telemetry.tracing) io.out(`tracing: on (${telemetry.reason})\n`);
  // SIGHUP's default is to end the process; here it means "re-read the TLS files" (results are logged).
  // Installed before the listening lines, which is what a supervisor waits for before it signals.
  const onHangup = () => void gateway.reload("signal");
  process.on("SIGHUP", onHangup);
  for (const s of gateway.segments) {
    io.out(`segment ${s.segment.name}: https://${s.segment.host}:${s.port} → ${s.segment.upstream}\n`);
  }
  try {
    await untilSignal();
  } finally {
    process.off("SIGHUP", onHangup);
  }
  await gateway.close();
  // After the listeners closed, so the spans of the last requests are in the final flush.
  await telemetry.shutdown();
  return 0;
}
