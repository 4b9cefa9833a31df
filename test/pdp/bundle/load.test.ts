// Loading a bundle: data files merged at their directory's path (JSON and YAML, at any depth), Rego
// compiled with our engine, policy.wasm kept as bytes, and OPA's manifest and roots rules — every
// violation refused with a message naming the file or path.
import { describe, expect, it } from "vitest";
import {
  BundleError,
  loadBundle,
  readArchive,
  writeArchive,
  type BundleFile,
} from "../../../pdp/bundle/index.js";

const files = (list: Record<string, string | Buffer>): BundleFile[] =>
  Object.entries(list).map(([path, s]) => ({ path, bytes: Buffer.isBuffer(s) ? s : Buffer.from(s) }));

async function refused(
  list: Record<string, string | Buffer>,
  kind: string,
  pattern: RegExp,
): Promise<BundleError> {
  const e = await loadBundle(files(list), { name: "t" }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BundleError);
  expect((e as BundleError).kind).toBe(kind);
  expect((e as BundleError).message).toMatch(pattern);
  return e as BundleError;
}

const WASM = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

describe("loadBundle", () => {
  it("merges data files at their directory path and evaluates the policy against them", async () => {
    const b = await loadBundle(
      files({
        ".manifest": JSON.stringify({
          revision: "2026-01-01.1",
          roots: ["authz", "users"],
          metadata: { team: "sec" },
        }),
        "authz/policy.rego":
          'package authz\n\nallow if data.users.roles[input.user] == "admin"\n\nlimit := data.authz.limits.max\n',
        "authz/limits/data.json": '{"max": 5}',
        "users/data.yaml": "roles:\n  alice: admin\n  bob: viewer\n",
      }),
      { name: "authz" },
    );
    expect(b.revision).toBe("2026-01-01.1");
    expect(b.manifest.roots).toEqual(["authz", "users"]);
    expect(b.manifest.metadata).toEqual({ team: "sec" });
    expect(b.data).toEqual({
      authz: { limits: { max: 5 } },
      users: { roles: { alice: "admin", bob: "viewer" } },
    });
    expect(b.policy.evalPath(["authz", "allow"], { input: { user: "alice" } })).toBe(true);
    expect(b.policy.evalPath(["authz", "allow"], { input: { user: "bob" } })).toBeUndefined();
    expect(b.policy.evalPath(["authz", "limit"])).toBe(5);
  });

  it("uses a content hash as the revision when the manifest has none, stable across archive round trips", async () => {
    const list = files({ "p.rego": "package p\n\nx := 1\n", "data.json": '{"a": 1}' });
    const a = await loadBundle(list, { name: "t" });
    expect(a.revision).toMatch(/^sha256:[0-9a-f]{16}$/);
    const b = await loadBundle(await readArchive(writeArchive(list)), { name: "t" });
    expect(b.revision).toBe(a.revision);
    const c = await loadBundle(files({ "p.rego": "package p\n\nx := 2\n", "data.json": '{"a": 1}' }), {
      name: "t",
    });
    expect(c.revision).not.toBe(a.revision);
  });

  it("keeps policy.wasm as bytes with the entrypoints the manifest maps to it", async () => {
    const b = await loadBundle(
      files({
        ".manifest": JSON.stringify({
          revision: "w",
          roots: ["http"],
          wasm: [{ entrypoint: "http/example/authz/allow", module: "/policy.wasm" }],
        }),
        "policy.wasm": WASM,
      }),
      { name: "t" },
    );
    expect(b.wasm).toEqual([{ path: "policy.wasm", bytes: WASM, entrypoints: ["http/example/authz/allow"] }]);
    expect(b.modules).toEqual([]);
  });

  it("refuses a bundle whose Rego does not compile, with every error and its location", async () => {
    const e = await refused(
      {
        "a.rego": "package a\n\nallow if {\n  input.x ==\n}\n",
        "b.rego": "package b\n\np := q\n",
      },
      "compile",
      /a\.rego:\d+:\d+: rego_parse_error/,
    );
    expect(e.details.length).toBeGreaterThanOrEqual(1);
    await refused(
      { "b.rego": "package b\n\np := q\n" },
      "compile",
      /b\.rego:3:\d+: rego_unsafe_var_error|b\.rego:3:\d+: rego_compile_error/,
    );
  });

  it("refuses malformed and conflicting data", async () => {
    await refused({ "a/data.json": "{not json" }, "data", /a\/data\.json: cannot parse/);
    await refused({ "data.json": "[1, 2]" }, "data", /data file at the root must hold an object/);
    await refused(
      { "data.json": '{"a": {"b": 1}}', "a/data.json": '{"b": 2}' },
      "data",
      /data\.a\.b is defined twice/,
    );
    await refused({ "data.yaml": "a: !!binary aGVsbG8=\n" }, "data", /unsupported YAML type/);
    await refused(
      { "data.json": `${"[".repeat(2000)}${"]".repeat(2000)}` },
      "data",
      /nesting deeper than 1000/,
    );
  });

  it("reads data.yaml as JSON when it is JSON, else as YAML 1.1 (as OPA's sigs.k8s.io/yaml does)", async () => {
    const b = await loadBundle(
      files({ "a/data.yaml": '{"n": 1.50}', "b/data.yml": "on: yes\nmode: 0755\nwhen: 2001-12-14\n" }),
      { name: "t" },
    );
    expect(b.data).toEqual({ a: { n: 1.5 }, b: { true: true, mode: 493, when: "2001-12-14" } });
  });

  it("treats a data key named __proto__ as data", async () => {
    const b = await loadBundle(files({ "data.json": '{"__proto__": {"polluted": true}}' }), { name: "t" });
    expect(Object.keys(b.data)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("manifest and roots", () => {
  it("refuses a package outside the roots", async () => {
    await refused(
      { ".manifest": '{"roots": ["authz"]}', "x.rego": "package other.policy\n\np := 1\n" },
      "roots",
      /do not permit 'package other\.policy' in module 'x\.rego'/,
    );
  });

  it("refuses data outside the roots, also deep inside an allowed prefix", async () => {
    await refused(
      { ".manifest": '{"roots": ["authz"]}', "users/data.json": '{"a": 1}' },
      "roots",
      /data at path '\/users\/a'|data at path '\/users'/,
    );
    await refused(
      { ".manifest": '{"roots": ["a/b"]}', "a/data.json": '{"b": {"ok": 1}, "c": 2}' },
      "roots",
      /do not permit data at path '\/a\/c'/,
    );
    await loadBundle(files({ ".manifest": '{"roots": ["a/b"]}', "a/data.json": '{"b": {"ok": 1}}' }), {
      name: "t",
    });
  });

  it("refuses overlapping roots", async () => {
    await refused(
      { ".manifest": '{"roots": ["authz", "authz/admin"]}' },
      "roots",
      /overlapped roots: 'authz' and 'authz\/admin'/,
    );
    await refused({ ".manifest": '{"roots": ["", "x"]}' }, "roots", /overlapped roots/);
    // Segment-wise, not string prefixes: "auth" and "authz" are disjoint.
    await loadBundle(files({ ".manifest": '{"roots": ["auth", "authz"]}' }), { name: "t" });
  });

  it("refuses a Wasm entrypoint outside the roots, a missing module, a shared entrypoint", async () => {
    const base = { "policy.wasm": WASM };
    await refused(
      {
        ...base,
        ".manifest": JSON.stringify({
          roots: ["a"],
          wasm: [{ entrypoint: "b/allow", module: "/policy.wasm" }],
        }),
      },
      "roots",
      /do not permit 'b\/allow' entrypoint/,
    );
    await refused(
      { ...base, ".manifest": JSON.stringify({ wasm: [{ entrypoint: "a/allow", module: "/other.wasm" }] }) },
      "manifest",
      /module file does not exist/,
    );
    await refused(
      {
        ...base,
        "x/policy.wasm": WASM,
        ".manifest": JSON.stringify({
          wasm: [
            { entrypoint: "a/allow", module: "/policy.wasm" },
            { entrypoint: "a/allow", module: "/x/policy.wasm" },
          ],
        }),
      },
      "manifest",
      /cannot be used by more than one wasm module/,
    );
  });

  it("refuses a malformed manifest, a manifest below the root, and Rego v0", async () => {
    await refused({ ".manifest": "{" }, "manifest", /\.manifest: not JSON/);
    await refused({ ".manifest": '{"roots": "authz"}' }, "manifest", /roots must be a list of strings/);
    await refused({ ".manifest": '{"revision": 7}' }, "manifest", /revision must be a string/);
    await refused({ "sub/.manifest": "{}" }, "archive", /\.manifest must be at the bundle root/);
    await refused({ ".manifest": '{"rego_version": 0}' }, "compile", /Rego v0 modules are not supported/);
  });
});
