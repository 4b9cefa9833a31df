// providers.aws.sign_req: signs an http.send-style request object with AWS
// Signature Version 4, as OPA's topdown/providers.go does. The operand
// checks (and their odd operand numbers, e.g. "operand 1" for the config
// object) reproduce OPA's messages, since policies and tests match on them.
import type { BuiltinDef } from "./registry.js";
import {
  ObjectBuilder,
  isNumber,
  isObject,
  makeSet,
  objectEntries,
  objectGet,
  objectKeys,
  toRegoText,
  type ObjectV,
  type Value,
} from "../value.js";
import { toBigInt } from "../number.js";
import { builtinErr, def, operandErr, typeErr } from "./lib/args.js";
import { goJSON } from "./lib/gojson.js";
import { URLError, parseGoURL, signV4, type GoURL } from "./lib/sigv4.js";

const NAME = "providers.aws.sign_req";

const REQUIRED_CONFIG_KEYS = ["aws_service", "aws_access_key", "aws_secret_access_key", "aws_region"];

// http.send's request keys: sign_req validates its request the same way.
const ALLOWED_REQUEST_KEYS = new Set<Value>([
  "method",
  "url",
  "body",
  "enable_redirect",
  "force_json_decode",
  "force_yaml_decode",
  "headers",
  "raw_body",
  "tls_use_system_certs",
  "tls_ca_cert",
  "tls_ca_cert_file",
  "tls_ca_cert_env_variable",
  "tls_client_cert",
  "tls_client_cert_file",
  "tls_client_cert_env_variable",
  "tls_client_key",
  "tls_client_key_file",
  "tls_client_key_env_variable",
  "tls_insecure_skip_verify",
  "tls_server_name",
  "timeout",
  "cache",
  "force_cache",
  "force_cache_duration_seconds",
  "raise_error",
  "caching_mode",
  "max_retry_attempts",
]);

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** OPA's stringFromTerm: non-strings read as "". */
const str = (v: Value | undefined): string => (typeof v === "string" ? v : "");

/** A set's text as OPA prints it in these messages, e.g. `{"aws_region", "aws_service"}`. */
const setText = (items: Value[]): string => toRegoText(makeSet(items));

function validateConfig(cfg: ObjectV): void {
  const missing = REQUIRED_CONFIG_KEYS.filter((k) => objectGet(cfg, k) === undefined);
  if (missing.length > 0) {
    throw operandErr(NAME, 2, `missing required AWS config parameters(s): ${setText(missing)}`);
  }
  const invalid = REQUIRED_CONFIG_KEYS.filter((k) => typeof objectGet(cfg, k) !== "string");
  if (invalid.length > 0) {
    throw operandErr(NAME, 2, `invalid values for required AWS config parameters(s): ${setText(invalid)}`);
  }
}

function validateRequest(req: ObjectV): void {
  const keys = objectKeys(req);
  const invalid = keys.filter((k) => typeof k !== "string" || !ALLOWED_REQUEST_KEYS.has(k));
  if (invalid.length > 0) throw operandErr(NAME, 1, `invalid request parameters(s): ${setText(invalid)}`);
  const missing = ["method", "url"].filter((k) => objectGet(req, k) === undefined);
  if (missing.length > 0)
    throw operandErr(NAME, 1, `missing required request parameters(s): ${setText(missing)}`);
}

function bodyBytes(req: ObjectV): Buffer {
  const raw = objectGet(req, "raw_body");
  if (raw !== undefined) return Buffer.from(str(raw), "utf8");
  const body = objectGet(req, "body");
  if (body !== undefined) return Buffer.from(goJSON(body), "utf8");
  return Buffer.alloc(0);
}

function signReq([reqV, cfgV, tsV]: Value[]): Value {
  if (!isObject(reqV!)) throw typeErr(NAME, 1, reqV!, "object");
  const req = reqV;
  // OPA reports the config operand as operand 1 here, and the timestamp too.
  if (!isObject(cfgV!)) throw typeErr(NAME, 1, cfgV!, "object");
  const cfg = cfgV;
  validateConfig(cfg);
  const service = str(objectGet(cfg, "aws_service"));
  const creds = {
    accessKey: str(objectGet(cfg, "aws_access_key")),
    secretKey: str(objectGet(cfg, "aws_secret_access_key")),
    region: str(objectGet(cfg, "aws_region")),
    sessionToken: str(objectGet(cfg, "aws_session_token")),
  };

  if (!isNumber(tsV!)) throw typeErr(NAME, 1, tsV!, "number");
  const ts = toBigInt(tsV);
  if (ts === null || ts < INT64_MIN || ts > INT64_MAX) {
    throw operandErr(NAME, 3, "could not convert time_ns value into a unix timestamp");
  }

  validateRequest(req);

  let headers: ObjectV = {};
  const headersV = objectGet(req, "headers");
  if (headersV !== undefined) {
    if (!isObject(headersV)) throw typeErr(NAME, 0, headersV, "object");
    headers = headersV;
  }

  const urlV = objectGet(req, "url")!;
  const methodV = objectGet(req, "method")!;
  const bad: Value[] = [];
  if (typeof urlV !== "string") bad.push("url");
  if (typeof methodV !== "string") bad.push("method");
  if (bad.length > 0)
    throw operandErr(NAME, 1, `invalid values for required request parameters(s): ${setText(bad)}`);

  let url: GoURL;
  try {
    url = parseGoURL(urlV as string);
  } catch (e) {
    if (e instanceof URLError) throw builtinErr(NAME, e.message);
    throw e;
  }
  const body = bodyBytes(req);

  const headerPairs: [string, string][] = objectEntries(headers).map(([k, v]) => [str(k), str(v)]);

  let disablePayloadSigning = false;
  const dps = objectGet(cfg, "disable_payload_signing");
  if (dps !== undefined) {
    if (typeof dps !== "boolean")
      throw operandErr(NAME, 2, "invalid value for 'disable_payload_signing' in AWS config");
    disablePayloadSigning = dps;
  }

  const { authorization, awsHeaders } = signV4(
    headerPairs,
    methodV as string,
    url,
    body,
    service,
    creds,
    ts,
    disablePayloadSigning,
  );

  // Original headers first, then Authorization and the signer's headers,
  // each overriding what came before, as OPA's successive Inserts do.
  const signed = new Map<string, string>();
  for (const [k, v] of headerPairs) signed.set(k, v);
  signed.set("Authorization", authorization);
  for (const [k, v] of awsHeaders) signed.set(k, v);
  const hb = new ObjectBuilder();
  for (const [k, v] of signed) hb.set(k, v);

  const out = new ObjectBuilder();
  for (const [k, v] of objectEntries(req)) if (k !== "headers") out.set(k, v);
  out.set("headers", hb.build());
  return out.build();
}

export const builtins: BuiltinDef[] = [def(NAME, 3, signReq)];
