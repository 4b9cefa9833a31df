// `portcullis attest`: evidence for a dev agent key, and optionally the whole background-check
// exchange against a verifier, so the attestation flow can be tried by hand.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { EarError, EarVerifier, loadPrivateKey, VerifierClient } from "../attestation/index.js";
import {
  DEMO_CONFIG_HASH,
  DEMO_IMAGE_DIGEST,
  DEMO_RUNTIME,
  EVIDENCE_MEDIA_TYPE,
  signEvidence,
  type Measurements,
  type RuntimeValue,
} from "../attestation/verifier/index.js";
import { UsageError, type ExitCode, type IO } from "./io.js";

export const attestUsage = `Usage: portcullis attest --key FILE (--demo | --image-digest D --config-hash H) [--runtime K=V]...
                        (--nonce N | --verifier URL [--nonce N] [--jwks FILE|URL] [--decode])

Signs evidence for an attester key (an X.509-SVID key from \`portcullis certs\`,
a PKCS#8 PEM or a private JWK): a JWT of type ${EVIDENCE_MEDIA_TYPE}
carrying the nonce and the measurements.

Without --verifier it prints the evidence (needs --nonce). With --verifier it
runs the background-check exchange — open a session (with --nonce, e.g. one
the gateway issued, else the verifier picks one), submit the evidence — and
prints the EAR the verifier returns.

  --key FILE            the attester's private key
  --demo                the demo agent's measurements (approved by \`portcullis verifier --init\`)
  --image-digest D      image digest, e.g. sha256:<hex>
  --config-hash H       configuration hash, e.g. sha256:<hex>
  --runtime K=V         a runtime fact (true/false and numbers are typed); repeatable
  --nonce N             base64/base64url nonce, 8 to 64 bytes
  --verifier URL        the verifier's base URL (e.g. http://127.0.0.1:8710)
  --jwks FILE|URL       verify the EAR with these keys and print the appraisal
  --decode              print the EAR's claims instead of the JWT
  --timeout-ms MS       deadline of the exchange (default 5000)
`;

function runtimeValue(v: string): RuntimeValue {
  if (v === "true") return true;
  if (v === "false") return false;
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return v;
}

function decodePayload(jwt: string): unknown {
  return JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8"));
}

export async function runAttest(argv: string[], io: IO): Promise<ExitCode> {
  const { values } = parseArgs({
    args: argv,
    options: {
      key: { type: "string" },
      demo: { type: "boolean" },
      "image-digest": { type: "string" },
      "config-hash": { type: "string" },
      runtime: { type: "string", multiple: true },
      nonce: { type: "string" },
      verifier: { type: "string" },
      jwks: { type: "string" },
      decode: { type: "boolean" },
      "timeout-ms": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    io.out(attestUsage);
    return 0;
  }
  if (values.key === undefined) throw new UsageError("--key FILE is required");
  if (values.verifier === undefined && values.nonce === undefined) {
    throw new UsageError("--nonce N is required without --verifier");
  }
  if (values.verifier === undefined && (values.jwks !== undefined || values.decode)) {
    throw new UsageError("--jwks and --decode go with --verifier");
  }
  let measurements: Measurements;
  if (values.demo) {
    if (values["image-digest"] !== undefined || values["config-hash"] !== undefined) {
      throw new UsageError("--demo sets the measurements; leave out --image-digest and --config-hash");
    }
    measurements = {
      image_digest: DEMO_IMAGE_DIGEST,
      config_hash: DEMO_CONFIG_HASH,
      runtime: { ...DEMO_RUNTIME },
    };
  } else {
    if (values["image-digest"] === undefined || values["config-hash"] === undefined) {
      throw new UsageError("--image-digest and --config-hash are required (or --demo)");
    }
    measurements = { image_digest: values["image-digest"], config_hash: values["config-hash"] };
  }
  for (const spec of values.runtime ?? []) {
    const eq = spec.indexOf("=");
    if (eq <= 0) throw new UsageError(`--runtime wants KEY=VALUE, got "${spec}"`);
    measurements.runtime = { ...measurements.runtime, [spec.slice(0, eq)]: runtimeValue(spec.slice(eq + 1)) };
  }
  const timeout = values["timeout-ms"] === undefined ? 5000 : Number(values["timeout-ms"]);
  if (!Number.isInteger(timeout) || timeout <= 0)
    throw new UsageError("--timeout-ms must be a positive integer");

  let key;
  try {
    key = loadPrivateKey(readFileSync(values.key, "utf8"));
  } catch (e) {
    io.err(`portcullis attest: cannot load ${values.key}: ${(e as Error).message}\n`);
    return 1;
  }

  if (values.verifier === undefined) {
    try {
      io.out((await signEvidence(key, { nonce: values.nonce!, measurements })) + "\n");
      return 0;
    } catch (e) {
      io.err(`portcullis attest: ${(e as Error).message}\n`);
      return 1;
    }
  }

  let client: VerifierClient;
  try {
    client = new VerifierClient({
      url: values.verifier,
      media_type: EVIDENCE_MEDIA_TYPE,
      timeout_ms: timeout,
    });
  } catch (e) {
    throw new UsageError(`--verifier: ${(e as Error).message}`);
  }
  try {
    // Evidence is signed over the session nonce: --nonce, or the one the verifier picks.
    const given = values.nonce;
    const build = (nonce: string) => signEvidence(key, { nonce, measurements });
    const out = await client.appraise(build, given !== undefined ? { nonce: given } : {});
    if (out.ok) io.err(`attest: session ${out.session} nonce ${out.nonce}\n`);
    if (!out.ok) {
      io.err(`portcullis attest: verifier ${out.failure.kind}: ${out.failure.message}\n`);
      return 1;
    }
    if (values.jwks !== undefined) {
      const jwks = values.jwks;
      try {
        const verifier = new EarVerifier({
          name: values.verifier,
          ...(/^https?:\/\//i.test(jwks) ? { jwks_url: jwks } : { jwks_file: jwks }),
          profiles: ["draft", "veraison"],
        });
        const ear = await verifier.verify(out.ear, { nonce: out.nonce });
        const vector = Object.entries(ear.trustVector)
          .map(([k, v]) => `${k} ${v.tier} (${v.value})`)
          .join(", ");
        io.err(`attest: EAR verified: status ${ear.status}; ${vector}\n`);
      } catch (e) {
        const why = e instanceof EarError ? e.message : `cannot load --jwks: ${(e as Error).message}`;
        io.err(`portcullis attest: the EAR does not verify: ${why}\n`);
        return 1;
      }
    }
    io.out(values.decode ? JSON.stringify(decodePayload(out.ear), null, 2) + "\n" : out.ear + "\n");
    return 0;
  } finally {
    client.close();
  }
}
