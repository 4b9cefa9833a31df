// The `portcullis` command line: dispatches to one file per command.
import { processIO, UsageError, type ExitCode, type IO } from "./io.js";

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

// Loaded on use: `serve` should not carry the dev PKI, the PDP server or the verifier in its heap (a long-lived
// proxy pays for every live object at each garbage collection), and every command starts faster.
const commands: Record<string, () => Promise<Command>> = {
  eval: async () => (await import("./eval.js")).runEval,
  test: async () => (await import("./test.js")).runTestCommand,
  check: async () => (await import("./check.js")).runCheck,
  build: async () => (await import("./build.js")).runBuild,
  conformance: async () => (await import("./conformance.js")).runConformance,
  demo: async () => (await import("./demo.js")).runDemo,
  certs: async () => (await import("./certs.js")).runCerts,
  serve: async () => (await import("./serve.js")).runServe,
  pdp: async () => (await import("./pdp.js")).runPdp,
  "hash-secret": async () => (await import("./hash_secret.js")).runHashSecret,
  verifier: async () => (await import("./verifier.js")).runVerifier,
  attest: async () => (await import("./attest.js")).runAttest,
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
  const load = Object.prototype.hasOwnProperty.call(commands, name) ? commands[name] : undefined;
  if (!load) {
    io.err(`portcullis: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  try {
    const command = await load();
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
