// The `portcullis` command line: dispatches to one file per command.
import { runAttest } from "./attest.js";
import { runCerts } from "./certs.js";
import { runBuild } from "./build.js";
import { runCheck } from "./check.js";
import { runConformance } from "./conformance.js";
import { runDemo } from "./demo.js";
import { runEval } from "./eval.js";
import { runHashSecret } from "./hash_secret.js";
import { processIO, UsageError, type ExitCode, type IO } from "./io.js";
import { runPdp } from "./pdp.js";
import { runServe } from "./serve.js";
import { runTestCommand } from "./test.js";
import { runVerifier } from "./verifier.js";

export const usage = `Usage: portcullis <command> [options]

Commands:
  eval         evaluate a Rego query (like \`opa eval --format json\`)
  test         run the test_* rules of Rego policies (like \`opa test\`)
  check        parse and compile Rego policies
  build        build an OPA-format bundle.tar.gz from a directory (optionally signed)
  conformance  run OPA-format YAML conformance cases
  demo         what \`npm start\` runs
  certs        write a dev PKI (CA, gateway and client certificates, token issuer)
  serve        run the gateway (one HTTPS listener per segment of --config FILE)
  pdp          serve the PDP alone over HTTP (OPA Data API, AuthZEN 1.0, health)
  hash-secret  hash an API key, password or pre-shared secret for the authenticator files
  verifier     run the reference RATS verifier (challenge-response API, signed EARs)
  attest       sign evidence for an agent key and get an EAR from a verifier

Run \`portcullis <command> --help\` for a command's options.
`;

type Command = (argv: string[], io: IO) => Promise<ExitCode>;

const commands: Record<string, Command> = {
  eval: runEval,
  test: runTestCommand,
  check: runCheck,
  build: runBuild,
  conformance: runConformance,
  demo: runDemo,
  certs: runCerts,
  serve: runServe,
  pdp: runPdp,
  "hash-secret": runHashSecret,
  verifier: runVerifier,
  attest: runAttest,
};

/** Runs the CLI with argv (without node and script) and returns the exit code. */
export async function main(argv: string[], io: IO = processIO): Promise<ExitCode> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.out(usage);
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "version") {
    const { readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { packageRoot } = await import("./paths.js");
    const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string };
    io.out(`portcullis ${pkg.version}\n`);
    return 0;
  }
  const command = Object.prototype.hasOwnProperty.call(commands, name) ? commands[name] : undefined;
  if (!command) {
    io.err(`portcullis: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  try {
    return await command(rest, io);
  } catch (e) {
    // parseArgs reports unknown or malformed options as TypeErrors with an ERR_PARSE_ARGS_* code.
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof UsageError || (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"))) {
      io.err(`portcullis ${name}: ${(e as Error).message}\nRun \`portcullis ${name} --help\` for usage.\n`);
      return 2;
    }
    throw e;
  }
}
