// `portcullis verifier`: the reference RATS verifier (challenge-response API shaped like Veraison's,
// EARs signed with its own key) for demos and tests; `--init DIR` writes a ready-to-run setup.
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import {
  loadVerifierConfig,
  startVerifier,
  VerifierConfigError,
  writeDevVerifier,
  type RunningVerifier,
} from "../attestation/verifier/index.js";
import { DEV_DIR } from "../gateway/pki/index.js";
import { formatErrors } from "./errors.js";
import { untilSignal } from "./signals.js";
import { UsageError, type ExitCode, type IO } from "./io.js";

export const verifierUsage = `Usage: portcullis verifier --config FILE
       portcullis verifier --init DIR [--pki DIR | --attester NAME=CERT_OR_KEY]...
                           [--profile veraison|draft] [--listen HOST:PORT] [--force]

Runs the reference verifier: a RATS challenge-response API shaped like
Veraison's (POST /challenge-response/v1/newSession, then POST the evidence to
the session) that appraises evidence JWTs from registered attester keys
against reference values and answers with a signed EAR. Its EAR signing key
is published at /.well-known/jwks.json. See docs/attestation.md.

  -c, --config FILE     the verifier config (YAML)
  --init DIR            write verifier.key, verifier-jwks.json and verifier.yaml
                        into DIR (the signing key is kept unless --force)
  --pki DIR             register DIR/agent.pem (from \`portcullis certs\`) as the
                        attester "agent" (default ${DEV_DIR})
  --attester NAME=FILE  register an attester by certificate, public key PEM or JWK
  --profile P           EAR profile to issue: veraison (default) or draft
  --listen ADDR         host:port written into the config (default 127.0.0.1:8710)
`;

function init(values: Record<string, string | string[] | boolean | undefined>, io: IO): ExitCode {
  const dir = values.init as string;
  const attesters: { name: string; public_key: string }[] = [];
  for (const spec of (values.attester as string[] | undefined) ?? []) {
    const eq = spec.indexOf("=");
    if (eq <= 0 || eq === spec.length - 1) throw new UsageError(`--attester wants NAME=FILE, got "${spec}"`);
    attesters.push({ name: spec.slice(0, eq), public_key: spec.slice(eq + 1) });
  }
  if (attesters.length === 0 || values.pki !== undefined) {
    const pki = (values.pki as string | undefined) ?? DEV_DIR;
    const cert = join(pki, "agent.pem");
    if (!existsSync(cert)) {
      io.err(
        `portcullis verifier: ${cert} not found; run \`portcullis certs --out ${pki}\` first or pass --attester\n`,
      );
      return 1;
    }
    attesters.push({ name: "agent", public_key: cert });
  }
  for (const a of attesters) {
    if (!existsSync(a.public_key)) {
      io.err(`portcullis verifier: ${a.public_key} not found\n`);
      return 1;
    }
  }
  const out = writeDevVerifier({
    dir,
    attesters,
    ...(values.profile !== undefined ? { profile: values.profile as string } : {}),
    ...(values.listen !== undefined ? { listen: values.listen as string } : {}),
    force: values.force === true,
  });
  const rel = (p: string) => relative(process.cwd(), p) || ".";
  io.out(`verifier: wrote ${out.files.map(rel).join(", ")}${out.keyReused ? " (signing key kept)" : ""}\n`);
  io.out(`verifier: run \`portcullis verifier --config ${rel(out.config)}\`\n`);
  return 0;
}

export async function runVerifier(argv: string[], io: IO): Promise<ExitCode> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string", short: "c" },
      init: { type: "string" },
      pki: { type: "string" },
      attester: { type: "string", multiple: true },
      profile: { type: "string" },
      listen: { type: "string" },
      force: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    io.out(verifierUsage);
    return 0;
  }
  if (values.init !== undefined) {
    if (values.config !== undefined) throw new UsageError("--init and --config do not go together");
    return init(values, io);
  }
  const initOnly = ["pki", "attester", "profile", "listen", "force"].filter(
    (k) => (values as Record<string, unknown>)[k] !== undefined,
  );
  if (initOnly.length > 0) throw new UsageError(`--${initOnly.join(", --")} only go with --init`);
  if (values.config === undefined) throw new UsageError("--config FILE or --init DIR is required");

  let running: RunningVerifier;
  try {
    const config = loadVerifierConfig(values.config);
    running = await startVerifier(config, (event) =>
      io.err(JSON.stringify({ time: new Date().toISOString(), ...event }) + "\n"),
    );
    io.out(`verifier: listening on ${running.url} (profile ${config.profile})\n`);
    io.out(`verifier: EAR signing keys at ${running.url}/.well-known/jwks.json\n`);
    for (const a of config.attesters) {
      io.out(`verifier: attester ${a.name}${a.id ? ` (${a.id})` : ""} kid ${a.key.kid}\n`);
    }
  } catch (e) {
    io.err(e instanceof VerifierConfigError ? `${e.message}\n` : `portcullis verifier: ${formatErrors(e)}`);
    return 1;
  }
  const sig = await untilSignal();
  io.out(`verifier: ${sig}, shutting down\n`);
  await running.close();
  return 0;
}
