// The `portcullis` command line: dispatches to one file per command.
import { runCerts } from "./certs.js";
import { runCheck } from "./check.js";
import { runConformance } from "./conformance.js";
import { runDemo } from "./demo.js";
import { runEval } from "./eval.js";
import { processIO, UsageError, type ExitCode, type IO } from "./io.js";
import { runServe } from "./serve.js";
import { runTestCommand } from "./test.js";

export const usage = `Usage: portcullis <command> [options]

Commands:
  eval         evaluate a Rego query (like \`opa eval --format json\`)
  test         run the test_* rules of Rego policies (like \`opa test\`)
  check        parse and compile Rego policies
  conformance  run OPA-format YAML conformance cases
  demo         what \`npm start\` runs
  certs        write a dev PKI (CA, gateway and client certificates, token issuer)
  serve        run the gateway (one HTTPS listener per segment of --config FILE)

Run \`portcullis <command> --help\` for a command's options.
`;

type Command = (argv: string[], io: IO) => Promise<ExitCode>;

const commands: Record<string, Command> = {
  eval: runEval,
  test: runTestCommand,
  check: runCheck,
  conformance: runConformance,
  demo: runDemo,
  certs: runCerts,
  serve: runServe,
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
