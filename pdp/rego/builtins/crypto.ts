// The crypto family (OPA's topdown/crypto.go): digests and HMACs over UTF-8
// bytes, and X.509 / private key parsing whose results have the shape of Go's
// crypto/x509 structs serialised to JSON (see lib/x509.ts).
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { BuiltinDef } from "./registry.js";
import { builtinErr, def, objArg, strArg } from "./lib/args.js";
import {
  Base64Error,
  certsFromString,
  EXT_KEY_USAGE_NAMES,
  goBase64Decode,
  latin1,
  parseCertificateRequest,
  pemDecode,
  privateKeysFromPEM,
  verifyChain,
  x509KeyPair,
  X509Error,
  type Cert,
  type VerifyOptions,
} from "./lib/x509.js";
import { fromJS, isArray, isNumber, isSet, objectEntries, type Value } from "../value.js";
import { toBigInt } from "../number.js";

function wrap<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof X509Error || e instanceof Base64Error) throw builtinErr(name, e.message);
    throw e;
  }
}

function digest(alg: string) {
  const name = `crypto.${alg}`;
  return def(name, 1, (args) =>
    createHash(alg)
      .update(strArg(name, args[0]!, 1), "utf8")
      .digest("hex"),
  );
}

function hmac(alg: string) {
  const name = `crypto.hmac.${alg}`;
  return def(name, 2, (args) => {
    const msg = strArg(name, args[0]!, 1);
    const key = strArg(name, args[1]!, 2);
    return createHmac(alg, Buffer.from(key, "utf8")).update(msg, "utf8").digest("hex");
  });
}

/** OPA's extendedCert: the certificate plus its URIs as strings. */
const withURIStrings = (c: Cert): Record<string, unknown> => ({
  ...c.json,
  URIStrings: c.uris ? [...c.uris] : null,
});

function parseVerifyOptions(name: string, v: Value): VerifyOptions {
  const opts: VerifyOptions = { dnsName: "", currentTime: null, keyUsages: [] };
  for (const [k, x] of objectEntries(objArg(name, v, 2))) {
    if (typeof k !== "string") continue;
    switch (k) {
      case "DNSName":
        if (typeof x !== "string") throw builtinErr(name, "'DNSName' should be a string");
        opts.dnsName = x.replace(/^"+|"+$/g, "");
        break;
      case "CurrentTime": {
        if (!isNumber(x)) throw builtinErr(name, "'CurrentTime' should be a number");
        const ns = toBigInt(x);
        if (ns === null || ns < -(2n ** 63n) || ns >= 2n ** 63n) {
          throw builtinErr(name, "'CurrentTime' should be a valid int64 number");
        }
        opts.currentTime = Number(ns / 1000000n);
        break;
      }
      case "MaxConstraintComparisons":
        if (!isNumber(x)) throw builtinErr(name, "'MaxConstraintComparisons' should be a number");
        if (toBigInt(x) === null)
          throw builtinErr(name, "'MaxConstraintComparisons' should be a valid number");
        break;
      case "KeyUsages": {
        if (!isArray(x) && !isSet(x)) throw builtinErr(name, "'KeyUsages' should be an Array or Set");
        const invalid: string[] = [];
        for (const u of isArray(x) ? x : x.sorted()) {
          if (typeof u !== "string") continue;
          const s = u.replace(/^"+|"+$/g, "");
          const ku = EXT_KEY_USAGE_NAMES[s];
          if (ku === undefined) invalid.push(s);
          else opts.keyUsages.push(ku);
        }
        if (invalid.length > 0)
          throw builtinErr(name, `invalid entries for 'KeyUsages' found: [${invalid.join(" ")}]`);
        break;
      }
      default:
        throw builtinErr(name, "invalid key option");
    }
  }
  return opts;
}

/** [true, chain] or, when the certificates do not parse or verify, [false, []] (OPA's contract). */
function parseAndVerify(input: string, opts: (certs: Cert[]) => VerifyOptions, extended: boolean): Value {
  let certs: Cert[];
  try {
    certs = certsFromString(input);
  } catch (e) {
    if (e instanceof X509Error || e instanceof Base64Error) return [false, []];
    throw e;
  }
  // Options are checked only once the certificates parse, as in OPA.
  const o = opts(certs);
  try {
    const chain = verifyChain(certs, o);
    return [true, fromJS(chain.map((c) => (extended ? withURIStrings(c) : c.json)))];
  } catch (e) {
    if (e instanceof X509Error) return [false, []];
    throw e;
  }
}

const BEGIN = "-----BEGIN ";

/** PEM or base64 text as a latin1 binary string (OPA's getTLSx509KeyPairFromString inputs). */
function pemOrWrapped(s: string, type: string): string {
  let bin = Buffer.from(s, "utf8").toString("latin1");
  if (!bin.startsWith(BEGIN)) bin = latin1(goBase64Decode(s));
  if (!bin.startsWith(type === "PRIVATE KEY" ? "-----BEGIN" : BEGIN)) {
    const body = Buffer.from(bin, "latin1")
      .toString("base64")
      .replace(/.{1,64}/g, "$&\n");
    bin = `-----BEGIN ${type}-----\n${body}-----END ${type}-----\n`;
  }
  return bin;
}

export const builtins: BuiltinDef[] = [
  digest("md5"),
  digest("sha1"),
  digest("sha256"),
  hmac("md5"),
  hmac("sha1"),
  hmac("sha256"),
  hmac("sha512"),
  def("crypto.hmac.equal", 2, (args) => {
    const name = "crypto.hmac.equal";
    const a = Buffer.from(strArg(name, args[0]!, 1), "utf8");
    const b = Buffer.from(strArg(name, args[1]!, 2), "utf8");
    return a.length === b.length && timingSafeEqual(a, b);
  }),
  def("crypto.x509.parse_certificates", 1, (args) => {
    const name = "crypto.x509.parse_certificates";
    const input = strArg(name, args[0]!, 1);
    return fromJS(wrap(name, () => certsFromString(input)).map(withURIStrings));
  }),
  def("crypto.x509.parse_and_verify_certificates", 1, (args) => {
    const name = "crypto.x509.parse_and_verify_certificates";
    const input = strArg(name, args[0]!, 1);
    return parseAndVerify(input, () => ({ dnsName: "", currentTime: null, keyUsages: [] }), true);
  }),
  def("crypto.x509.parse_and_verify_certificates_with_options", 2, (args) => {
    const name = "crypto.x509.parse_and_verify_certificates_with_options";
    const input = strArg(name, args[0]!, 1);
    objArg(name, args[1]!, 2);
    return parseAndVerify(input, () => parseVerifyOptions(name, args[1]!), false);
  }),
  def("crypto.x509.parse_certificate_request", 1, (args) => {
    const name = "crypto.x509.parse_certificate_request";
    const input = strArg(name, args[0]!, 1);
    return wrap(name, () => {
      let bin = Buffer.from(input, "utf8").toString("latin1");
      if (!input.startsWith("-----BEGIN CERTIFICATE REQUEST-----")) bin = latin1(goBase64Decode(input));
      const { block } = pemDecode(bin);
      if (block && block.type !== "CERTIFICATE REQUEST") {
        throw new X509Error("invalid PEM-encoded certificate signing request");
      }
      const der = block ? block.bytes : Buffer.from(bin, "latin1");
      return fromJS(parseCertificateRequest(der));
    });
  }),
  def("crypto.x509.parse_keypair", 2, (args) => {
    const name = "crypto.x509.parse_keypair";
    const cert = strArg(name, args[0]!, 1);
    const key = strArg(name, args[1]!, 1);
    return wrap(name, () =>
      fromJS(x509KeyPair(pemOrWrapped(cert, "CERTIFICATE"), pemOrWrapped(key, "PRIVATE KEY"))),
    );
  }),
  def("crypto.x509.parse_rsa_private_key", 1, (args) => {
    const name = "crypto.x509.parse_rsa_private_key";
    let pem = strArg(name, args[0]!, 1);
    if (pem === "") throw builtinErr(name, "input PEM data was empty");
    return wrap(name, () => {
      if (!pem.startsWith("-----BEGIN")) pem = goBase64Decode(pem).toString("utf8");
      const keys = privateKeysFromPEM(pem);
      if (keys.length === 0) return null;
      const k = keys[0]!;
      if (k.key.asymmetricKeyType !== "rsa" && k.key.asymmetricKeyType !== "ec") {
        throw new X509Error("invalid key type");
      }
      return fromJS(k.jwk);
    });
  }),
  def("crypto.parse_private_keys", 1, (args) => {
    const name = "crypto.parse_private_keys";
    const input = strArg(name, args[0]!, 1);
    if (input === "") return null;
    return wrap(name, () => fromJS(privateKeysFromPEM(input).map((k) => k.goJSON)));
  }),
];
