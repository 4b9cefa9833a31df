// Bundle signatures (.signatures.json) as OPA writes and checks them: signed with real keys (ES256,
// RS256, PS256, HS256), verified after an archive round trip, and refused when anything is off — a
// tampered, unlisted, extra or missing file, no signature, a signature nobody asked to check, the
// wrong key, the wrong scope, an algorithm the token picked itself, a weak digest.
import { createHash, createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BundleError,
  canonicalText,
  loadBundle,
  readArchive,
  readKeyFile,
  signatureFile,
  writeArchive,
  type BundleFile,
  type SigningAlgorithm,
  type VerificationConfig,
} from "../../../pdp/bundle/index.js";
import { keyPair, removeTree, tempDir, type KeyFiles } from "./helpers.js";

let dir: string;
let ec: KeyFiles;
let ec2: KeyFiles;
let rsa: KeyFiles;
beforeAll(() => {
  dir = tempDir();
  ec = keyPair(dir, "ec-p256", "ec");
  ec2 = keyPair(dir, "ec-p256", "ec-other");
  rsa = keyPair(dir, "rsa");
});
afterAll(() => removeTree(dir));

const SOURCES: Record<string, string> = {
  ".manifest": '{"revision": "r1", "roots": ["authz"]}',
  "authz/policy.rego": "package authz\n\nallow if input.user == data.authz.users.admin\n",
  "authz/users/data.json": '{"admin": "alice", "n": 1.50}',
};

function bundleFiles(list: Record<string, string> = SOURCES): BundleFile[] {
  return Object.entries(list).map(([path, s]) => ({ path, bytes: Buffer.from(s) }));
}

async function signed(
  alg: SigningAlgorithm,
  keyFile: string,
  o: { keyId?: string; scope?: string; files?: BundleFile[] } = {},
): Promise<BundleFile[]> {
  const list = o.files ?? bundleFiles();
  const key = readKeyFile(keyFile, "signing", alg);
  const sig = await signatureFile(list, {
    alg,
    key,
    ...(o.keyId !== undefined ? { keyId: o.keyId } : {}),
    ...(o.scope !== undefined ? { scope: o.scope } : {}),
  });
  return [...list, { path: ".signatures.json", bytes: sig }];
}

function verification(
  alg: SigningAlgorithm,
  keyFile: string,
  o: { scope?: string; keyId?: string } = {},
): VerificationConfig {
  return { alg, key: readKeyFile(keyFile, "verification", alg), ...o };
}

async function rejected(
  files: BundleFile[],
  v: VerificationConfig | undefined,
  pattern: RegExp,
): Promise<void> {
  const e = await loadBundle(files, { name: "authz", ...(v ? { verification: v } : {}) }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BundleError);
  expect((e as BundleError).kind).toBe("signature");
  expect((e as BundleError).message).toMatch(pattern);
}

function replace(files: BundleFile[], path: string, content: string): BundleFile[] {
  return files.map((f) => (f.path === path ? { path, bytes: Buffer.from(content) } : f));
}

function jwtParts(sigFile: BundleFile): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
} {
  const jwt = (JSON.parse(sigFile.bytes.toString()) as { signatures: string[] }).signatures[0]!;
  const [h, p] = jwt.split(".");
  return {
    header: JSON.parse(Buffer.from(h!, "base64url").toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p!, "base64url").toString()) as Record<string, unknown>,
  };
}

describe("signing and verification", () => {
  it("writes OPA's format: one JWT, header alg/typ/kid, payload files with SHA-256 digests and keyid", async () => {
    const files = await signed("ES256", ec.privateFile, { keyId: "k1" });
    const sig = files.find((f) => f.path === ".signatures.json")!;
    expect(Object.keys(JSON.parse(sig.bytes.toString()) as object)).toEqual(["signatures"]);
    const { header, payload } = jwtParts(sig);
    expect(header).toEqual({ alg: "ES256", typ: "JWT", kid: "k1" });
    expect(payload.keyid).toBe("k1");
    const listed = payload.files as { name: string; hash: string; algorithm: string }[];
    expect(listed.map((f) => f.name)).toEqual([".manifest", "authz/policy.rego", "authz/users/data.json"]);
    expect(listed.every((f) => f.algorithm === "SHA-256")).toBe(true);
    // A .rego file is hashed over its bytes; a data.json over its canonical text (sorted keys,
    // compact, numbers as written).
    const sha = (s: string) => createHash("sha256").update(s).digest("hex");
    expect(listed[1]!.hash).toBe(sha(SOURCES["authz/policy.rego"]!));
    expect(listed[2]!.hash).toBe(sha('{"admin":"alice","n":1.50}'));
  });

  for (const [alg, key] of [
    ["ES256", () => ec],
    ["RS256", () => rsa],
    ["PS256", () => rsa],
  ] as const) {
    it(`verifies a ${alg} signature after an archive round trip`, async () => {
      const files = await readArchive(writeArchive(await signed(alg, key().privateFile, { keyId: "k" })));
      const b = await loadBundle(files, { name: "authz", verification: verification(alg, key().publicFile) });
      expect(b.signature).toEqual({ algorithm: alg, keyId: "k", files: 3 });
      expect(b.policy.evalPath(["authz", "allow"], { input: { user: "alice" } })).toBe(true);
    });
  }

  it("verifies an HS256 signature with a shared secret (one trailing newline is not part of it)", async () => {
    const secretFile = `${dir}/hmac.secret`;
    const { writeFileSync } = await import("node:fs");
    writeFileSync(secretFile, "correct horse battery staple\n");
    const files = await signed("HS256", secretFile);
    await loadBundle(files, { name: "authz", verification: verification("HS256", secretFile) });
    writeFileSync(`${dir}/hmac.wrong`, "correct horse battery stapler\n");
    await rejected(files, verification("HS256", `${dir}/hmac.wrong`), /signature verification failed/);
  });

  it("accepts a data file reformatted after signing (OPA hashes its parsed value)", async () => {
    const files = replace(
      await signed("ES256", ec.privateFile),
      "authz/users/data.json",
      '{\n  "n": 1.50,\n  "admin": "alice"\n}\n',
    );
    await loadBundle(files, { name: "authz", verification: verification("ES256", ec.publicFile) });
  });

  it("rejects a tampered file", async () => {
    const v = verification("ES256", ec.publicFile);
    const base = await signed("ES256", ec.privateFile);
    await rejected(
      replace(base, "authz/policy.rego", "package authz\n\nallow := true\n"),
      v,
      /authz\/policy\.rego: digest mismatch/,
    );
    await rejected(
      replace(base, "authz/users/data.json", '{"admin": "mallory", "n": 1.50}'),
      v,
      /data\.json: digest mismatch/,
    );
    // 1.50 and 1.5 are the same number but not the same literal: OPA's digest tells them apart.
    await rejected(
      replace(base, "authz/users/data.json", '{"admin": "alice", "n": 1.5}'),
      v,
      /digest mismatch/,
    );
    await rejected(
      replace(base, ".manifest", '{"revision": "r2", "roots": ["authz"]}'),
      v,
      /\.manifest: digest mismatch/,
    );
  });

  it("rejects a bundle without a signature when a key is configured", async () => {
    await rejected(
      bundleFiles(),
      verification("ES256", ec.publicFile),
      /not signed \(no \.signatures\.json\)/,
    );
  });

  it("rejects a signed bundle when no key is configured", async () => {
    await rejected(
      await signed("ES256", ec.privateFile),
      undefined,
      /signed but no verification key is configured/,
    );
  });

  it("rejects a signature by another key", async () => {
    await rejected(
      await signed("ES256", ec2.privateFile),
      verification("ES256", ec.publicFile),
      /signature verification failed/,
    );
  });

  it("rejects an unlisted file added after signing, of any kind", async () => {
    const base = await signed("ES256", ec.privateFile);
    const v = verification("ES256", ec.publicFile);
    await rejected(
      [...base, { path: "authz/extra.rego", bytes: Buffer.from("package authz\n\nallow := true\n") }],
      v,
      /authz\/extra\.rego is not included in the bundle signature/,
    );
    await rejected(
      [...base, { path: "README.md", bytes: Buffer.from("hi") }],
      v,
      /README\.md is not included/,
    );
  });

  it("rejects a listed file missing from the bundle", async () => {
    const base = (await signed("ES256", ec.privateFile)).filter((f) => f.path !== "authz/users/data.json");
    await rejected(
      base,
      verification("ES256", ec.publicFile),
      /authz\/users\/data\.json specified in the bundle signature but not found/,
    );
  });

  it("checks the scope both ways", async () => {
    const writeScoped = await signed("ES256", ec.privateFile, { scope: "write" });
    await loadBundle(writeScoped, {
      name: "authz",
      verification: verification("ES256", ec.publicFile, { scope: "write" }),
    });
    await rejected(writeScoped, verification("ES256", ec.publicFile, { scope: "read" }), /scope mismatch/);
    await rejected(writeScoped, verification("ES256", ec.publicFile), /scope mismatch/);
    await rejected(
      await signed("ES256", ec.privateFile),
      verification("ES256", ec.publicFile, { scope: "write" }),
      /scope mismatch/,
    );
  });

  it("never lets the token choose the algorithm: HS256 keyed with the RSA public key is refused", async () => {
    const list = bundleFiles();
    // A forged token: the genuine files claim, HMAC'd with the public key's PEM text as the secret.
    const payload = { files: jwtParts((await signed("RS256", rsa.privateFile)).at(-1)!).payload.files };
    const h = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");
    const p = Buffer.from(JSON.stringify(payload)).toString("base64url");
    const mac = createHmac("sha256", rsa.publicPem).update(`${h}.${p}`).digest("base64url");
    const forged = [
      ...list,
      { path: ".signatures.json", bytes: Buffer.from(JSON.stringify({ signatures: [`${h}.${p}.${mac}`] })) },
    ];
    await rejected(forged, verification("RS256", rsa.publicFile), /signature verification failed/);
  });

  it("rejects malformed signature files", async () => {
    const v = verification("ES256", ec.publicFile);
    const sig = (await signed("ES256", ec.privateFile)).at(-1)!;
    const jwt = (JSON.parse(sig.bytes.toString()) as { signatures: string[] }).signatures[0]!;
    const with_ = (content: unknown) => [
      ...bundleFiles(),
      { path: ".signatures.json", bytes: Buffer.from(JSON.stringify(content)) },
    ];
    await rejected(with_({ signatures: [] }), v, /missing JWT/);
    await rejected(with_({ signatures: [jwt, jwt] }), v, /multiple JWTs not supported/);
    await rejected(with_({ signatures: [jwt], plugin: "custom" }), v, /plugin "custom" is not supported/);
    await rejected(with_({ signatures: ["a.b"] }), v, /malformed JWT/);
    await rejected([...bundleFiles(), { path: ".signatures.json", bytes: Buffer.from("{") }], v, /not JSON/);
  });

  it("refuses MD5 and SHA-1 digests even when correctly signed", async () => {
    const secretFile = `${dir}/hmac2.secret`;
    const { writeFileSync } = await import("node:fs");
    writeFileSync(secretFile, "s3cret-s3cret-s3cret");
    const list = bundleFiles();
    const md5 = list.map((f) => ({
      name: f.path,
      hash: createHash("md5")
        .update(f.path === "authz/policy.rego" ? f.bytes : canonicalText(f.bytes, 100))
        .digest("hex"),
      algorithm: "MD5",
    }));
    const h = Buffer.from(JSON.stringify({ alg: "HS256" })).toString("base64url");
    const p = Buffer.from(JSON.stringify({ files: md5 })).toString("base64url");
    const mac = createHmac("sha256", "s3cret-s3cret-s3cret").update(`${h}.${p}`).digest("base64url");
    const files = [
      ...list,
      { path: ".signatures.json", bytes: Buffer.from(JSON.stringify({ signatures: [`${h}.${p}.${mac}`] })) },
    ];
    await rejected(files, verification("HS256", secretFile), /hashing algorithm MD5 is too weak/);
  });

  it("refuses a key that does not fit the algorithm", () => {
    expect(() => readKeyFile(rsa.publicFile, "verification", "ES256")).toThrow(
      /rsa key cannot be used with ES256/,
    );
    expect(() => readKeyFile(ec.publicFile, "verification", "ES384")).toThrow(
      /prime256v1 key cannot be used with ES384/,
    );
    expect(() => readKeyFile(ec.publicFile, "signing", "ES256")).toThrow(/not a PEM private key/);
  });
});

describe("canonical text of structured files (OPA's digest input)", () => {
  const c = (s: string) => canonicalText(Buffer.from(s), 100);
  it("JSON: sorted keys, compact, number literals kept, Go's string escaping without HTML escapes", () => {
    expect(c('{ "b": [1.50, 1e5, -0], "a": "<&>", "a": "x\u2028y" }')).toBe(
      '{"a":"x\\u2028y","b":[1.50,1e5,-0]}',
    );
    expect(c('{"é": 1, "z": 2, "😀": 3, "\uffff": 4}')).toBe('{"z":2,"é":1,"\uffff":4,"😀":3}');
    expect(c('"\\u0001\\b\\f\\n\\t\\\\\\"/"')).toBe('"\\u0001\\b\\f\\n\\t\\\\\\"/"');
    expect(c('"\\ud800"')).toBe('"\ufffd"');
    expect(c("\ufeff[1]")).toBe("[1]");
  });
  it("YAML: parsed as YAML 1.1, numbers printed as Go prints them", () => {
    // YAML 1.1 reads `n` (a key here) as false, like go-yaml v2 does.
    expect(c("b: 1.50\na: yes\nmode: 0755\nbig: 12345678901234567890\nt: 2001-12-14\nn: 1\n")).toBe(
      '{"a":true,"b":1.5,"big":12345678901234567890,"false":1,"mode":493,"t":"2001-12-14"}',
    );
  });
});
