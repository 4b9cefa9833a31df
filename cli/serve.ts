// `portcullis serve --config FILE`: validates the config and the policy, then runs every segment.
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, type Config } from "../gateway/config/index.js";
import { regoPdp, type Pdp } from "../gateway/server/enforce.js";
import { startGateway, type RunningGateway } from "../gateway/server/serve.js";
import { compile } from "../pdp/rego/index.js";
import { formatErrors } from "./errors.js";
import { UsageError, type ExitCode, type IO } from "./io.js";
import { loadPaths } from "./load.js";

export const serveUsage = `Usage: portcullis serve --config FILE

Runs the gateway: one HTTPS listener per segment of FILE (YAML). Config and
policy errors are reported before any port opens, and the exit code is 1.
`;

/** Loads `pdp.policies` like `opa eval -d`, so a data.json lands under its directory's package path. */
export function loadPdp(config: Config): Pdp {
  const loaded = loadPaths([config.pdp.policies]);
  return regoPdp(compile({ modules: loaded.modules, data: loaded.data }), config.pdp.entrypoint);
}

/** Resolves once SIGINT or SIGTERM arrives. */
export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
  });
}

export async function runServe(argv: string[], io: IO): Promise<ExitCode> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    io.out(serveUsage);
    return 0;
  }
  if (!values.config) throw new UsageError("--config FILE is required");
  let gateway: RunningGateway;
  try {
    const config = loadConfig(values.config);
    gateway = await startGateway(config, loadPdp(config));
  } catch (e) {
    io.err(e instanceof ConfigError ? `${e.message}\n` : `portcullis serve: ${formatErrors(e)}`);
    return 1;
  }
  for (const s of gateway.segments) {
    io.out(`segment ${s.segment.name}: https://${s.segment.host}:${s.port} → ${s.segment.upstream}\n`);
  }
  await untilSignal();
  await gateway.close();
  return 0;
}
