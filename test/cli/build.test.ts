// `portcullis build`: a directory becomes an OPA-format bundle.tar.gz that our loader (and GNU tar)
// read back, byte-for-byte reproducible, signed when asked, and never written when it would not load.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBundle, readArchive, readKeyFile } from "../../pdp/bundle/index.js";
import { keyPair, type KeyFiles } from "../pdp/bundle/helpers.js";
import { cli, removeTree, tempTree } from "./helpers.js";

let root: string;
let ec: KeyFiles;
let rsa: KeyFiles;

const POLICY = {
  "src/authz/policy.rego": 'package authz\n\nallow if data.authz.users[input.user].role == "admin"\n',
  "src/authz/users/data.json": '{"alice": {"role": "admin"}}',
  "src/README.md": "not part of the bundle",
};

beforeAll(() => {
  root = tempTree({
    ...POLICY,
    "rooted/.manifest": '{"revision": "from-manifest", "roots": ["authz"], "metadata": {"owner": "sec"}}',
    "rooted/authz/policy.rego": "package authz\n\nallow := true\n",
    "broken/authz/policy.rego": "package authz\n\nallow if {\n",
    "outside/.manifest": '{"roots": ["authz"]}',
    "outside/other/policy.rego": "package other\n\np := 1\n",
    "resigned/.signatures.json": '{"signatures": ["stale"]}',
    "resigned/p.rego": "package p\n\nq := 1\n",
    "hmac.secret": "shared-secret-of-some-length\n",
  });
  ec = keyPair(root, "ec-p256", "ec");
  rsa = keyPair(root, "rsa", "rsa");
});
afterAll(() => removeTree(root));

const out = (name: string) => join(root, name);

async function load(file: string, verification?: Parameters<typeof loadBundle>[1]["verification"]) {
  return loadBundle(await readArchive(readFileSync(file)), {
    name: "b",
    ...(verification ? { verification } : {}),
  });
}

describe("portcullis build", () => {
  it("builds a bundle the loader reads back and evaluates, with the revision given", async () => {
    const r = await cli("build", join(root, "src"), "-o", out("a.tar.gz"), "--revision", "v42");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`built ${out("a.tar.gz")}: revision v42, 1 module, 1 data file\n`);
    const b = await load(out("a.tar.gz"));
    expect(b.revision).toBe("v42");
    expect(b.manifest).toEqual({ revision: "v42", roots: [""], wasm: [], rego_version: 1 });
    expect(b.files.map((f) => f.path)).toEqual([".manifest", "authz/policy.rego", "authz/users/data.json"]);
    expect(b.policy.evalPath(["authz", "allow"], { input: { user: "alice" } })).toBe(true);
  });

  it("is reproducible and lists like opa build's output", async () => {
    await cli("build", join(root, "src"), "-o", out("r1.tar.gz"));
    await cli("build", join(root, "src"), "-o", out("r2.tar.gz"));
    const a = readFileSync(out("r1.tar.gz"));
    expect(a.equals(readFileSync(out("r2.tar.gz")))).toBe(true);
    const names = execFileSync("tar", ["-tzf", out("r1.tar.gz")], { stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim()
      .split("\n");
    expect(names).toEqual(["/.manifest", "/authz/policy.rego", "/authz/users/data.json"]);
    // Without --revision and without a manifest revision: a content hash.
    expect((await load(out("r1.tar.gz"))).revision).toMatch(/^sha256:[0-9a-f]{16}$/);
  });

  it("keeps the directory's .manifest (roots, metadata, revision)", async () => {
    expect((await cli("build", join(root, "rooted"), "-o", out("m.tar.gz"))).code).toBe(0);
    const b = await load(out("m.tar.gz"));
    expect(b.manifest).toMatchObject({
      revision: "from-manifest",
      roots: ["authz"],
      metadata: { owner: "sec" },
    });
  });

  it("signs with ES256 and a key id; the bundle verifies with the public key and not with another", async () => {
    const r = await cli(
      "build",
      join(root, "src"),
      "-o",
      out("s.tar.gz"),
      "--signing-key",
      ec.privateFile,
      "--signing-alg",
      "ES256",
      "--key-id",
      "k1",
      "--scope",
      "write",
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/, signed ES256 \(kid k1\)\n$/);
    const b = await load(out("s.tar.gz"), {
      alg: "ES256",
      key: readKeyFile(ec.publicFile, "verification", "ES256"),
      scope: "write",
    });
    expect(b.signature).toEqual({ algorithm: "ES256", keyId: "k1", scope: "write", files: 3 });
    const other = keyPair(root, "ec-p256", "other");
    await expect(
      load(out("s.tar.gz"), {
        alg: "ES256",
        key: readKeyFile(other.publicFile, "verification", "ES256"),
        scope: "write",
      }),
    ).rejects.toThrow(/signature verification failed/);
    await expect(load(out("s.tar.gz"))).rejects.toThrow(/signed but no verification key/);
  });

  it("signs with RS256 by default (as opa build), and with an HMAC secret", async () => {
    expect(
      (await cli("build", join(root, "src"), "-o", out("rs.tar.gz"), "--signing-key", rsa.privateFile)).code,
    ).toBe(0);
    await load(out("rs.tar.gz"), { alg: "RS256", key: readKeyFile(rsa.publicFile, "verification", "RS256") });
    const secret = join(root, "hmac.secret");
    expect(
      (
        await cli(
          "build",
          join(root, "src"),
          "-o",
          out("hs.tar.gz"),
          "--signing-key",
          secret,
          "--signing-alg",
          "HS256",
        )
      ).code,
    ).toBe(0);
    await load(out("hs.tar.gz"), { alg: "HS256", key: readKeyFile(secret, "verification", "HS256") });
  });

  it("replaces a stale .signatures.json from the directory", async () => {
    const r = await cli("build", join(root, "resigned"), "-o", out("re.tar.gz"));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\.signatures\.json was not copied \(the bundle is unsigned\)/);
    expect((await load(out("re.tar.gz"))).files.map((f) => f.path)).not.toContain(".signatures.json");
  });

  it("writes nothing when the bundle would not load", async () => {
    const broken = await cli("build", join(root, "broken"), "-o", out("broken.tar.gz"));
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^portcullis build: authz\/policy\.rego:\d+:\d+: rego_parse_error/);
    expect(existsSync(out("broken.tar.gz"))).toBe(false);
    const outside = await cli("build", join(root, "outside"), "-o", out("outside.tar.gz"));
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/do not permit 'package other' in module 'other\/policy\.rego'/);
    expect(readdirSync(root).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    writeFileSync(out("bad.key"), "not a key");
    const badKey = await cli(
      "build",
      join(root, "src"),
      "-o",
      out("k.tar.gz"),
      "--signing-key",
      out("bad.key"),
      "--signing-alg",
      "ES256",
    );
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/bad\.key: not a PEM private key/);
  });

  it("a PDP refuses to start on a bundle that does not load", async () => {
    const r = await cli("pdp", "--bundle", join(root, "broken"), "--listen", "127.0.0.1:0");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /portcullis pdp: bundle rejected: authz\/policy\.rego:\d+:\d+: rego_parse_error/,
    );
  });

  it("reports usage errors with exit code 2", async () => {
    expect((await cli("build")).code).toBe(2);
    expect((await cli("build", join(root, "src"), "--key-id", "k")).stderr).toMatch(
      /--key-id goes with --signing-key/,
    );
    expect(
      (await cli("build", join(root, "src"), "--signing-key", ec.privateFile, "--signing-alg", "none")).code,
    ).toBe(2);
    expect((await cli("build", "--help")).stdout).toMatch(/^Usage: portcullis build DIR/);
  });
});
