// Verifying `.signatures.json` as OPA does (bundle/verify.go), failing closed at every step:
//   - a key is configured and the bundle is unsigned → rejected;
//   - the bundle is signed and no key is configured → rejected (OPA: "verification key not provided");
//   - exactly one JWS, verified with the configured key and algorithm (never the token's choice);
//   - the `scope` claim equals the configured scope (both absent counts as equal);
//   - the signed file list equals the bundle's files exactly, and every digest matches.
import { compactVerify } from "jose";
import { hashFile } from "./hash.js";
import type { BundleKey, SigningAlgorithm } from "./keys.js";
import { SIGNATURES } from "./paths.js";
import { BundleError, type BundleFile, type SignatureInfo } from "./types.js";

export interface VerificationConfig {
  alg: SigningAlgorithm;
  key: BundleKey;
  /** Reported and used for signing; OPA picks its key by this id, we hold exactly one key. */
  keyId?: string;
  scope?: string;
}

function fail(message: string): never {
  throw new BundleError("signature", message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function decodeSegment(seg: string | undefined, what: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(Buffer.from(seg ?? "", "base64url").toString("utf8"));
    if (isObject(v)) return v;
  } catch {
    // reported below
  }
  return fail(`.signatures.json: malformed JWT ${what}`);
}

/** The single JWS of `.signatures.json`. */
function theToken(file: BundleFile): string {
  let doc: unknown;
  try {
    doc = JSON.parse(file.bytes.toString("utf8"));
  } catch (e) {
    fail(`.signatures.json: not JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) fail(".signatures.json: must be an object");
  if (doc.plugin !== undefined && doc.plugin !== "") {
    fail(`.signatures.json: signature plugin ${JSON.stringify(doc.plugin)} is not supported`);
  }
  const sigs = doc.signatures;
  if (!Array.isArray(sigs) || sigs.length === 0) fail(".signatures.json: missing JWT (expected exactly one)");
  if (sigs.length > 1) fail(".signatures.json: multiple JWTs not supported (expected exactly one)");
  if (typeof sigs[0] !== "string") fail(".signatures.json: the JWT must be a string");
  return sigs[0];
}

/**
 * Verifies the bundle's signature against `config`; returns undefined for an unsigned bundle when no
 * key is configured. Throws BundleError("signature") — or ("data") for a structured file that does
 * not parse — on any failure.
 */
export async function verifyBundle(
  files: readonly BundleFile[],
  config: VerificationConfig | undefined,
  maxDepth: number,
): Promise<SignatureInfo | undefined> {
  const sigFile = files.find((f) => f.path === SIGNATURES);
  if (!config) {
    if (sigFile) fail("the bundle is signed but no verification key is configured");
    return undefined;
  }
  if (!sigFile) fail("the bundle is not signed (no .signatures.json) but a verification key is configured");

  const token = theToken(sigFile);
  const parts = token.split(".");
  if (parts.length !== 3) fail(".signatures.json: malformed JWT (expected three segments)");
  const header = decodeSegment(parts[0], "header");

  let payloadBytes: Uint8Array;
  try {
    // The configured algorithm is the only one accepted: a token cannot pick HS256 for an RSA key.
    ({ payload: payloadBytes } = await compactVerify(token, config.key, { algorithms: [config.alg] }));
  } catch (e) {
    fail(`signature verification failed: ${(e as Error).message}`);
  }
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(payloadBytes).toString("utf8"));
  } catch {
    fail(".signatures.json: the JWT payload is not JSON");
  }
  if (!isObject(payload)) fail(".signatures.json: the JWT payload must be an object");

  const want = config.scope ?? "";
  const got = payload.scope ?? "";
  if (got !== want)
    fail(`scope mismatch: the signature has ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);

  if (!Array.isArray(payload.files)) fail(".signatures.json: the JWT payload has no files list");
  const listed = new Map<string, { hash: string; algorithm: string }>();
  for (const f of payload.files as unknown[]) {
    if (
      !isObject(f) ||
      typeof f.name !== "string" ||
      typeof f.hash !== "string" ||
      typeof f.algorithm !== "string"
    ) {
      fail(".signatures.json: each listed file needs string name, hash and algorithm");
    }
    if (listed.has(f.name)) fail(`.signatures.json: file ${JSON.stringify(f.name)} is listed twice`);
    listed.set(f.name, { hash: f.hash, algorithm: f.algorithm });
  }

  let count = 0;
  for (const f of files) {
    if (f.path === SIGNATURES) continue;
    const entry = listed.get(f.path);
    if (!entry) fail(`file ${f.path} is not included in the bundle signature`);
    if (entry.algorithm === "") fail(`no hashing algorithm provided for file ${f.path}`);
    const actual = hashFile(f.path, f.bytes, entry.algorithm, maxDepth);
    if (!/^[0-9a-fA-F]*$/.test(entry.hash) || entry.hash.toLowerCase() !== actual) {
      fail(`${f.path}: digest mismatch (the file was changed after signing)`);
    }
    listed.delete(f.path);
    count++;
  }
  if (listed.size > 0) {
    fail(
      `file(s) ${[...listed.keys()].join(", ")} specified in the bundle signature but not found in the bundle`,
    );
  }

  const kid =
    typeof header.kid === "string"
      ? header.kid
      : typeof payload.keyid === "string"
        ? payload.keyid
        : undefined;
  return {
    algorithm: config.alg,
    ...(kid !== undefined ? { keyId: kid } : config.keyId !== undefined ? { keyId: config.keyId } : {}),
    ...(want !== "" ? { scope: want } : {}),
    files: count,
  };
}
