// `portcullis build DIR -o bundle.tar.gz`: an OPA-format bundle, optionally signed, like
// `opa build -b DIR [--signing-key …]`. The bundle is loaded and compiled before it is written, and
// written atomically (a temp file renamed into place), so a PDP watching the output never reads half
// a bundle or a broken one.
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  BundleError,
  buildBundle,
  isSigningAlgorithm,
  readKeyFile,
  SIGNING_ALGORITHMS,
  type SigningOptions,
} from "../pdp/bundle/index.js";
import { UsageError, type ExitCode, type IO } from "./io.js";

export const buildUsage = `Usage: portcullis build DIR [-o FILE] [--revision R]
                        [--signing-key FILE [--signing-alg ALG] [--key-id ID] [--scope S]]

Builds an OPA-format bundle from DIR: its .rego files, data.json / data.yaml
files (merged at their directory's path) and policy.wasm files, with a
.manifest (DIR/.manifest when present; revision set). The bundle is compiled
first: one with a Rego error, data outside its roots or malformed data is not
written. Same files in, same bytes out (fixed order, mtime 0).

  -o, --output FILE     where to write (default bundle.tar.gz)
  -r, --revision R      the manifest revision (default: DIR/.manifest's,
                        else sha256: and 16 hex digits of the content)
  --signing-key FILE    sign the bundle (.signatures.json): a PEM private key
                        for RS*/PS*/ES*, or a file holding the HMAC secret for HS*
  --signing-alg ALG     ${SIGNING_ALGORITHMS.join(" ")}
                        (default RS256, as opa build)
  --key-id ID           the key id (JWT kid) verifiers select the key by
  --scope S             a scope claim; a verifier configured with a scope
                        accepts only bundles signed for it
See docs/bundles.md.
`;

export async function runBuild(argv: string[], io: IO): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: "string", short: "o" },
      revision: { type: "string", short: "r" },
      "signing-key": { type: "string" },
      "signing-alg": { type: "string" },
      "key-id": { type: "string" },
      scope: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    io.out(buildUsage);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("build needs exactly one directory");
  const alg = values["signing-alg"] ?? "RS256";
  if (!isSigningAlgorithm(alg)) {
    throw new UsageError(`--signing-alg must be one of ${SIGNING_ALGORITHMS.join(" ")}, got ${alg}`);
  }
  const keyFile = values["signing-key"];
  if (keyFile === undefined) {
    for (const k of ["signing-alg", "key-id", "scope"] as const) {
      if (values[k] !== undefined) throw new UsageError(`--${k} goes with --signing-key`);
    }
  }
  const dir = resolve(positionals[0]!);
  const out = resolve(values.output ?? "bundle.tar.gz");

  let tmp: string | undefined;
  try {
    const signing: SigningOptions | undefined =
      keyFile !== undefined
        ? {
            alg,
            key: readKeyFile(resolve(keyFile), "signing", alg),
            ...(values["key-id"] !== undefined ? { keyId: values["key-id"] } : {}),
            ...(values.scope !== undefined ? { scope: values.scope } : {}),
          }
        : undefined;
    const built = await buildBundle(dir, {
      ...(values.revision !== undefined ? { revision: values.revision } : {}),
      ...(signing ? { signing } : {}),
    });
    tmp = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`);
    writeFileSync(tmp, built.archive);
    renameSync(tmp, out);
    tmp = undefined;

    const b = built.bundle;
    const parts = [`${b.modules.length} module${b.modules.length === 1 ? "" : "s"}`];
    const dataFiles = built.files.filter((f) => /(^|\/)data\.(json|ya?ml)$/.test(f.path)).length;
    if (dataFiles > 0) parts.push(`${dataFiles} data file${dataFiles === 1 ? "" : "s"}`);
    if (b.wasm.length > 0) parts.push(`${b.wasm.length} wasm module${b.wasm.length === 1 ? "" : "s"}`);
    const signed = signing
      ? `, signed ${signing.alg}${signing.keyId !== undefined ? ` (kid ${signing.keyId})` : ""}`
      : "";
    io.out(`built ${out}: revision ${b.revision}, ${parts.join(", ")}${signed}\n`);
    if (built.droppedSignature) {
      io.err(
        `note: ${dir}/.signatures.json was not copied (${signing ? "re-signed" : "the bundle is unsigned"})\n`,
      );
    }
    return 0;
  } catch (e) {
    if (tmp) rmSync(tmp, { force: true });
    if (e instanceof BundleError) {
      io.err(
        `portcullis build: ${e.message}\n${e.details.length > 1 ? e.details.map((l) => `  ${l}\n`).join("") : ""}`,
      );
      return 1;
    }
    io.err(`portcullis build: ${(e as Error).message}\n`);
    return 1;
  }
}
