// `portcullis check`: parse and compile only; silent on success.
import { parseArgs } from "node:util";
import { compile, type Value } from "../pdp/rego/index.js";
import { formatErrors } from "./errors.js";
import { UsageError, type ExitCode, type IO } from "./io.js";
import { loadPaths } from "./load.js";

export const checkUsage = `Usage: portcullis check PATHS...

Parses and compiles the .rego files (and loads the data files) under PATHS.
Prints nothing and exits 0 when they compile; prints the errors and exits 1 otherwise.
`;

export async function runCheck(argv: string[], io: IO): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { help: { type: "boolean", short: "h", default: false } },
  });
  if (values.help) {
    io.out(checkUsage);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("check needs at least one path");
  try {
    const loaded = loadPaths(positionals);
    compile({ modules: loaded.modules, data: loaded.data as Value });
    return 0;
  } catch (e) {
    io.err(formatErrors(e));
    return 1;
  }
}
