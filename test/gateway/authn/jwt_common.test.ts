// The inline signature path (lib/jws_signature.ts + lib/jwt_claims.ts) against jose's own jwtVerify: for
// every token of a corpus of good and bad ones, both must give the same verdict and the same error.
// The only intended differences are where we are stricter, and those are asserted separately.
import {
  constants,
  createPrivateKey,
  createSign,
  generateKeyPairSync,
  KeyObject,
  sign as nodeSign,
  type webcrypto,
} from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, SignJWT, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JwksSource } from "../../../gateway/authn/jwks.js";
import {
  parseCompactJwt,
  verifyJwt,
  verifyWithJose,
  type VerifyOptions,
} from "../../../gateway/authn/jwt_common.js";
import { AuthnError } from "../../../gateway/authn/types.js";
import { AUDIENCE, b64url, ISSUER, makeKey, nowS, sign, type SigningKey } from "./helpers.js";

const ALGS = ["ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"];

let dir: string;
const keys: Record<string, SigningKey> = {};
let weakRsa: { kid: string; privateKeyPem: string };
let jwksFile: string;
let twinFile: string;

function options(over: Partial<VerifyOptions> = {}): VerifyOptions {
  return {
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ALGS,
    clockSkewS: 30,
    requiredClaims: ["exp", "sub"],
    nowMs: Date.now(),
    ...over,
  };
}

type Verdict = { ok: true; sub: unknown } | { ok: false; error: string };

async function verdict(run: () => Promise<{ sub?: unknown }>): Promise<Verdict> {
  try {
    return { ok: true, sub: (await run()).sub };
  } catch (e) {
    if (!(e instanceof AuthnError)) throw e;
    return { ok: false, error: e.description };
  }
}

/** Both paths, each with its own JWKS source so neither benefits from the other's resolved keys. */
async function both(token: string, o: VerifyOptions = options(), file = jwksFile) {
  const inline = await verdict(() => {
    const jwt = parseCompactJwt(token, 16_384);
    return verifyJwt(jwt, new JwksSource({ jwks_file: file }), o);
  });
  const jose = await verdict(() => verifyWithJose(token, new JwksSource({ jwks_file: file }), o));
  return { inline, jose };
}

/** Signs arbitrary payload bytes (base64url string) or JSON (jose's SignJWT refuses some shapes we need). */
function resign(header: Record<string, unknown>, payload: unknown, key: SigningKey): string {
  const h = b64url(header);
  const p = typeof payload === "string" ? payload : b64url(payload);
  return `${h}.${p}.${rawSigners[key.kid]!(`${h}.${p}`)}`;
}

const rawSigners: Record<string, (input: string) => string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-jwtcommon-"));
  for (const alg of ALGS) keys[alg] = await makeKey(`k-${alg}`, alg);
  // Raw signers through node:crypto with the same private keys, for malformed-but-signed tokens.
  for (const alg of ALGS) {
    const k = keys[alg]!;
    const ko = KeyObject.from(k.privateKey as unknown as webcrypto.CryptoKey);
    rawSigners[k.kid] = (input) => {
      const data = Buffer.from(input);
      if (alg.startsWith("ES")) {
        const hash = `sha${alg.slice(2)}`;
        return nodeSign(hash, data, { key: ko, dsaEncoding: "ieee-p1363" }).toString("base64url");
      }
      if (alg === "EdDSA") return nodeSign(null, data, ko).toString("base64url");
      if (alg === "PS256") {
        return nodeSign("sha256", data, {
          key: ko,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: 32,
        }).toString("base64url");
      }
      return createSign("sha256").update(data).sign(ko).toString("base64url");
    };
  }
  const weak = generateKeyPairSync("rsa", { modulusLength: 1024 });
  weakRsa = {
    kid: "k-weak",
    privateKeyPem: weak.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  };
  const weakJwk = { ...(await exportJWK(weak.publicKey)), kid: "k-weak", alg: "RS256", use: "sig" };
  jwksFile = join(dir, "jwks.json");
  writeFileSync(jwksFile, JSON.stringify({ keys: [...ALGS.map((a) => keys[a]!.publicJwk), weakJwk] }));
  // Two EC P-256 keys with no kid: jose tries both for a kid-less header; the inline path defers to it.
  const twin = await makeKey("twin", "ES256");
  const strip = (j: JWK): JWK => {
    const { kid: _kid, ...rest } = j;
    void _kid;
    return rest;
  };
  keys.twin = twin;
  twinFile = join(dir, "twin.json");
  writeFileSync(twinFile, JSON.stringify({ keys: [strip(keys.ES256!.publicJwk), strip(twin.publicJwk)] }));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("inline JWS verification agrees with jose", () => {
  it("accepts a valid token of every allowed algorithm", async () => {
    for (const alg of ALGS) {
      const r = await both(await sign(keys[alg]!));
      expect(r.inline, alg).toEqual({ ok: true, sub: "spiffe://corp.example/agent/planner" });
      expect(r.jose, alg).toEqual(r.inline);
    }
  });

  const cases: [string, () => Promise<string>, string][] = [
    ["expired beyond the skew", () => sign(keys.ES256!, { exp: nowS() - 31 }), "token expired"],
    ["exp exactly at now - skew", () => sign(keys.ES256!, { exp: nowS() - 30 }), "token expired"],
    ["nbf beyond the skew", () => sign(keys.ES256!, { nbf: nowS() + 60 }), "token not yet valid"],
    ["iat in the future", () => sign(keys.ES256!, { iat: nowS() + 120 }), "token issued in the future"],
    [
      "iat not a number",
      () => sign(keys.ES256!, { iat: "yesterday" as unknown as number }),
      "invalid iat claim",
    ],
    [
      "exp a string",
      () => sign(keys.RS256!, { exp: String(nowS() + 60) as unknown as number }),
      "invalid exp claim",
    ],
    ["nbf null", () => sign(keys.ES256!, { nbf: null as unknown as number }), "invalid nbf claim"],
    ["wrong iss", () => sign(keys.ES256!, { iss: "https://evil.example" }), "invalid iss claim"],
    ["missing iss", () => sign(keys.ES256!, { iss: undefined }), "invalid iss claim"],
    ["wrong aud", () => sign(keys.EdDSA!, { aud: "other" }), "invalid aud claim"],
    ["aud a number", () => sign(keys.ES256!, { aud: 7 as unknown as string }), "invalid aud claim"],
    ["missing aud", () => sign(keys.ES256!, { aud: undefined }), "invalid aud claim"],
    ["missing sub (required)", () => sign(keys.ES256!, { sub: undefined }), "invalid sub claim"],
    ["missing exp (required)", () => sign(keys.PS256!, { exp: undefined }), "invalid exp claim"],
    ["unknown kid", () => sign(keys.ES256!, {}, { kid: "nope" }), "unknown signing key"],
    [
      "kid of an RSA key with alg ES256",
      () => sign(keys.ES256!, {}, { kid: "k-RS256" }),
      "unknown signing key",
    ],
    [
      "kid of a P-256 key with alg ES384",
      async () => {
        const t = await sign(keys.ES384!, {}, { kid: "k-ES256" });
        return t;
      },
      "unknown signing key",
    ],
  ];

  for (const [name, make, error] of cases) {
    it(`adversarial: ${name}`, async () => {
      const r = await both(await make());
      expect(r.inline).toEqual({ ok: false, error });
      expect(r.jose).toEqual(r.inline);
    });
  }

  it("accepts within the skew on both paths (nbf, exp, audience lists)", async () => {
    for (const t of [
      await sign(keys.ES256!, { nbf: nowS() + 20 }),
      await sign(keys.ES256!, { exp: nowS() - 20 }),
      await sign(keys.ES256!, { aud: ["x", AUDIENCE] }),
    ]) {
      const r = await both(t);
      expect(r.inline.ok).toBe(true);
      expect(r.jose).toEqual(r.inline);
    }
    const list = await both(
      await sign(keys.ES256!, { aud: "second" }),
      options({ audience: ["first", "second"] }),
    );
    expect(list.inline.ok).toBe(true);
    expect(list.jose).toEqual(list.inline);
  });

  it("adversarial: tampered payload, flipped and truncated signatures, DER signatures", async () => {
    const good = await sign(keys.ES256!);
    const [h, p, s] = good.split(".") as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
    const forged = [
      `${h}.${b64url({ ...payload, sub: "spiffe://corp.example/agent/admin" })}.${s}`,
      `${h}.${p}.${s.slice(0, -2)}${s.endsWith("AA") ? "BB" : "AA"}`,
      `${h}.${p}.${Buffer.from(s, "base64url").subarray(0, 63).toString("base64url")}`,
    ];
    // The same signature DER-encoded: OpenSSL's default form, not the JWS one (RFC 7518 §3.4).
    const raw = Buffer.from(s, "base64url");
    const int = (b: Buffer) => {
      let x = b;
      while (x.length > 1 && x[0] === 0 && x[1]! < 0x80) x = x.subarray(1);
      return x[0]! >= 0x80 ? Buffer.concat([Buffer.from([0]), x]) : x;
    };
    const r = int(raw.subarray(0, 32));
    const ss = int(raw.subarray(32));
    const der = Buffer.concat([
      Buffer.from([0x30, r.length + ss.length + 4, 2, r.length]),
      r,
      Buffer.from([2, ss.length]),
      ss,
    ]);
    forged.push(`${h}.${p}.${der.toString("base64url")}`);
    for (const t of forged) {
      const v = await both(t);
      expect(v.inline).toEqual({ ok: false, error: "invalid signature" });
      expect(v.jose).toEqual(v.inline);
    }
  });

  it("adversarial: alg none, HS256 with the public key as secret, an algorithm not configured", async () => {
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: "x", exp: nowS() + 60 };
    const none = `${b64url({ alg: "none", typ: "at+jwt" })}.${b64url(claims)}.c2ln`;
    const secret = Buffer.from(JSON.stringify(keys.ES256!.publicJwk));
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", kid: "k-ES256" })
      .sign(new Uint8Array(secret));
    for (const t of [none, hs]) {
      const v = await both(t);
      expect(v.inline).toEqual({ ok: false, error: "algorithm not allowed" });
      expect(v.jose).toEqual(v.inline);
    }
    const only = options({ algorithms: ["ES256"] });
    const v = await both(await sign(keys.RS256!), only);
    expect(v.inline).toEqual({ ok: false, error: "algorithm not allowed" });
    expect(v.jose).toEqual(v.inline);
  });

  it("adversarial: an RSA key under 2048 bits never verifies", async () => {
    // jose refuses to sign with it too, so the token is signed by node:crypto directly.
    const h = b64url({ alg: "RS256", kid: weakRsa.kid, typ: "at+jwt" });
    const p = b64url({ iss: ISSUER, aud: AUDIENCE, sub: "x", exp: nowS() + 60 });
    const sig = createSign("sha256").update(`${h}.${p}`).sign(createPrivateKey(weakRsa.privateKeyPem));
    const t = `${h}.${p}.${sig.toString("base64url")}`;
    const v = await both(t);
    expect(v.inline.ok).toBe(false);
    expect(v.jose.ok).toBe(false);
  });

  it("adversarial: a non-object payload and invalid UTF-8 are refused by both", async () => {
    const k = keys.ES256!;
    const header = { alg: "ES256", kid: k.kid, typ: "at+jwt" };
    const arrayPayload = resign(header, ["not", "an", "object"], k);
    const badUtf8 = resign(
      header,
      Buffer.concat([Buffer.from('{"iss":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]).toString(
        "base64url",
      ),
      k,
    );
    for (const t of [arrayPayload, badUtf8]) {
      const jose = await verdict(() => verifyWithJose(t, new JwksSource({ jwks_file: jwksFile }), options()));
      expect(jose.ok).toBe(false);
      expect(() => parseCompactJwt(t, 16_384)).toThrow(AuthnError);
    }
  });

  it("adversarial: a crit header is refused by both (jose: unknown extension; we implement none)", async () => {
    const k = keys.ES256!;
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: "x", exp: nowS() + 60 };
    const t = resign({ alg: "ES256", kid: k.kid, crit: ["exp"], exp: 1 }, claims, k);
    const v = await both(t);
    expect(v.inline.ok).toBe(false);
    expect(v.jose.ok).toBe(false);
  });

  it("adversarial: a kid-less header that matches two keys is refused by both (jose does not guess)", async () => {
    const t = await sign(keys.twin!, {}, { kid: undefined });
    const r = await both(t, options(), twinFile);
    expect(r.inline).toEqual({ ok: false, error: "invalid token" });
    expect(r.jose).toEqual(r.inline);
    // With one candidate left, the kid-less header verifies on both paths.
    const single = join(dir, "single.json");
    const { kid: _kid, ...jwk } = keys.twin!.publicJwk;
    void _kid;
    writeFileSync(single, JSON.stringify({ keys: [jwk] }));
    const one = await both(t, options(), single);
    expect(one.inline.ok).toBe(true);
    expect(one.jose).toEqual(one.inline);
  });

  it("stricter than jose: duplicate member names are refused before any key is looked at", async () => {
    const k = keys.ES256!;
    const p = Buffer.from(
      `{"iss":"${ISSUER}","aud":"${AUDIENCE}","sub":"a","sub":"b","exp":${nowS() + 60}}`,
    ).toString("base64url");
    const t = resign({ alg: "ES256", kid: k.kid, typ: "at+jwt" }, p, k);
    expect(() => parseCompactJwt(t, 16_384)).toThrow(/malformed token payload/);
    const jose = await verdict(() => verifyWithJose(t, new JwksSource({ jwks_file: jwksFile }), options()));
    expect(jose).toEqual({ ok: true, sub: "b" }); // why the strict parse exists
  });
});

describe("resolved keys", () => {
  it("jose resolves each (kid, alg) once; later tokens use the remembered key", async () => {
    const file = join(dir, "once.json");
    writeFileSync(file, JSON.stringify({ keys: [keys.ES256!.publicJwk, keys.RS256!.publicJwk] }));
    const src = new JwksSource({ jwks_file: file });
    const first = parseCompactJwt(await sign(keys.ES256!), 16_384);
    expect(src.keyFor(first.header)).toBeUndefined();
    await verifyJwt(first, src, options());
    expect(src.keyFor(first.header)?.asymmetricKeyType).toBe("ec");
    // Another algorithm's key is a separate resolution.
    expect(src.keyFor(parseCompactJwt(await sign(keys.RS256!), 16_384).header)).toBeUndefined();
    // The set is not read again for the remembered key (the file is gone, the max age not reached).
    rmSync(file);
    const next = parseCompactJwt(await sign(keys.ES256!, { sub: "spiffe://corp.example/agent/two" }), 16_384);
    expect((await verifyJwt(next, src, options())).sub).toBe("spiffe://corp.example/agent/two");
    expect(src.fetchCount).toBe(1);
    // A bad token with a remembered key is refused all the same.
    const expired = parseCompactJwt(await sign(keys.ES256!, { exp: nowS() - 100 }), 16_384);
    await expect(verifyJwt(expired, src, options())).rejects.toThrow(/token expired/);
  });

  it("a key removed from the JWKS stops verifying at the next load", async () => {
    const file = join(dir, "rotating.json");
    writeFileSync(file, JSON.stringify({ keys: [keys.ES256!.publicJwk] }));
    let now = Date.now();
    const src = new JwksSource({ jwks_file: file, max_age_s: 60, now: () => now });
    const o = () => options({ nowMs: now });
    await verifyJwt(parseCompactJwt(await sign(keys.ES256!), 16_384), src, o());
    writeFileSync(file, JSON.stringify({ keys: [keys.ES384!.publicJwk] }));
    now += 61_000; // past max age: the remembered key must not answer for the old set
    const t = parseCompactJwt(await sign(keys.ES256!, { exp: nowS() + 3600, iat: nowS() + 60 }), 16_384);
    expect(src.keyFor(t.header)).toBeUndefined();
    await expect(verifyJwt(t, src, o())).rejects.toThrow(/unknown signing key/);
    expect(src.keyFor(t.header)).toBeUndefined();
  });
});
