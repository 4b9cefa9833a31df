// `portcullis certs`: writes the dev PKI (CA, gateway certificate, client
// SVIDs, token issuer and tokens) so every gateway path can be tried by hand.
import { relative } from "node:path";
import { parseArgs } from "node:util";
import {
  DEV_AUDIENCE,
  DEV_DIR,
  DEV_ISSUER,
  DEV_SCOPE,
  DEV_TRUST_DOMAIN,
  defaultDevIdentities,
  ensureDevPki,
  parseSpiffeId,
  type DevSvid,
  type DevToken,
} from "../gateway/pki/index.js";
import { UsageError, type ExitCode, type IO } from "./io.js";

export const certsUsage = `Usage: portcullis certs [--out DIR] [--trust-domain TD] [--spiffe-id [NAME=]ID]...
                       [--token SUB --aud AUD --scope "a b"] [--force]

Writes a development PKI into DIR (default ${DEV_DIR}/):
  ca.pem ca.key             CA (EC P-256); reused when present unless --force
  gateway.pem gateway.key   server certificate for localhost / 127.0.0.1
  NAME.pem NAME.key         an X.509-SVID per --spiffe-id (NAME defaults to the ID's last path segment)
  jwks.json issuer.key      token issuer keys (public JWKS, private JWK); reused unless --force
  NAME.jwt                  an RFC 9068 access token for --token SUB
With no --spiffe-id and no --token it writes the demo agent: agent.pem/agent.key for
spiffe://${DEV_TRUST_DOMAIN}/agent/planner and agent.jwt (aud ${DEV_AUDIENCE}, scope "${DEV_SCOPE}").

Options:
  -o, --out DIR              output directory
      --trust-domain TD      trust domain of the CA and SVIDs (default ${DEV_TRUST_DOMAIN})
      --spiffe-id [NAME=]ID  issue an SVID (repeatable)
      --token SUB            mint an access token for SUB (needs --aud; file NAME.jwt, NAME as above
                             when SUB is a SPIFFE ID issued here, else its last path segment)
      --aud AUD              token audience
      --scope "A B"          token scopes (space-separated)
      --iss URL              token issuer (default ${DEV_ISSUER})
      --ttl SECONDS          token lifetime (default 3600)
      --force                replace an existing CA and issuer key
`;

function lastSegment(id: string): string {
  return id.replace(/\/+$/, "").split(/[/:]/).pop() ?? id;
}

export async function runCerts(argv: string[], io: IO): Promise<ExitCode> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: "string", short: "o" },
      "trust-domain": { type: "string" },
      "spiffe-id": { type: "string", multiple: true },
      token: { type: "string" },
      aud: { type: "string" },
      scope: { type: "string" },
      iss: { type: "string" },
      ttl: { type: "string" },
      force: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: false,
  });
  if (values.help) {
    io.out(certsUsage);
    return 0;
  }
  const trustDomain = values["trust-domain"] ?? DEV_TRUST_DOMAIN;
  const svids: DevSvid[] = (values["spiffe-id"] ?? []).map((arg) => {
    const eq = arg.indexOf("=");
    // A SPIFFE ID has no "=" before its scheme, so NAME=ID is unambiguous.
    const [name, spiffeId] =
      eq > 0 && !arg.startsWith("spiffe:") ? [arg.slice(0, eq), arg.slice(eq + 1)] : [null, arg];
    const parsed = parseSpiffeId(spiffeId);
    if (typeof parsed === "string") throw new UsageError(`--spiffe-id ${spiffeId}: ${parsed}`);
    return { name: name ?? parsed.segments.at(-1) ?? "", spiffeId };
  });
  const tokens: DevToken[] = [];
  if (values.token !== undefined) {
    if (values.aud === undefined) throw new UsageError("--token needs --aud");
    const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
    if (!Number.isInteger(ttl) || ttl <= 0) throw new UsageError("--ttl must be a positive integer");
    const sub = values.token;
    tokens.push({
      name: svids.find((s) => s.spiffeId === sub)?.name ?? lastSegment(sub),
      sub,
      aud: values.aud,
      scope: values.scope ?? "",
      iss: values.iss ?? DEV_ISSUER,
      ttl_s: ttl,
    });
  } else if (values.aud !== undefined || values.scope !== undefined || values.iss !== undefined) {
    throw new UsageError("--aud, --scope and --iss need --token");
  }
  const defaults = svids.length === 0 && tokens.length === 0 ? defaultDevIdentities(trustDomain) : null;
  const out = values.out ?? DEV_DIR;
  let pki;
  try {
    pki = await ensureDevPki({
      dir: out,
      trustDomain,
      svids: defaults?.svids ?? svids,
      tokens: defaults?.tokens ?? tokens,
      force: values.force ?? false,
    });
  } catch (e) {
    io.err(`portcullis certs: ${(e as Error).message}\n`);
    return 1;
  }
  const shown = relative(process.cwd(), pki.dir) || ".";
  io.out(
    `${pki.caReused ? "Reused" : "Created"} CA for spiffe://${trustDomain} in ${shown}/\n` +
      pki.files.map((f) => `  ${relative(pki.dir, f)}\n`).join(""),
  );
  return 0;
}
