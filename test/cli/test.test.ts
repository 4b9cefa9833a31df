import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { formatDuration } from "../../cli/test.js";
import { cli, removeTree, tempTree } from "./helpers.js";

let root: string;

const policy = [
  "package authz",
  "",
  "default allow := false",
  "",
  "allow if input.user == data.users.admin",
  "",
].join("\n");

beforeAll(() => {
  root = tempTree({
    "good/authz.rego": policy,
    "good/users/data.json": JSON.stringify({ admin: "alice" }),
    "good/authz_test.rego": [
      "package authz_test",
      "",
      "import data.authz",
      "",
      'test_admin_allowed if authz.allow with input as {"user": "alice"}',
      "",
      'test_other_denied if not authz.allow with input as {"user": "bob"}',
      "",
      "helper := 1",
      "",
    ].join("\n"),
    "bad/authz.rego": policy,
    "bad/users/data.json": JSON.stringify({ admin: "alice" }),
    "bad/authz_test.rego": [
      "package authz_test",
      "",
      "import data.authz",
      "",
      'test_admin_allowed if authz.allow with input as {"user": "alice"}',
      "",
      'test_bob_allowed if authz.allow with input as {"user": "bob"}',
      "",
      "test_error if 1 / 0",
      "",
      "todo_test_later if false",
      "",
    ].join("\n"),
    "broken/x.rego": "package x\n\ntest_a if {\n",
  });
});
afterAll(() => removeTree(root));

describe("portcullis test", () => {
  it("passes when every test_ rule is true", async () => {
    const r = await cli("test", join(root, "good"));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("PASS: 2/2\n");
  });

  it("lists every test with -v", async () => {
    const r = await cli("test", "-v", join(root, "good"));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^data\.authz_test\.test_admin_allowed: PASS \(.+\)$/m);
    expect(r.stdout).toMatch(/^data\.authz_test\.test_other_denied: PASS \(.+\)$/m);
    expect(r.stdout).toContain("-".repeat(80) + "\nPASS: 2/2\n");
    expect(r.stdout).not.toContain("helper");
  });

  it("fails with exit 1 and lists failures and errors", async () => {
    const r = await cli("test", join(root, "bad"));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^data\.authz_test\.test_bob_allowed: FAIL \(.+\)$/m);
    expect(r.stdout).toMatch(/^data\.authz_test\.test_error: (FAIL|ERROR) \(.+\)$/m);
    expect(r.stdout).not.toContain("test_admin_allowed");
    expect(r.stdout).toContain("PASS: 1/4\n");
    expect(r.stdout).toContain("SKIPPED: 1/4\n");
  });

  it("filters tests with --run", async () => {
    const r = await cli("test", "--run", "admin", join(root, "bad"));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("PASS: 1/1\n");
  });

  it("reports compile errors with file:row:col", async () => {
    const r = await cli("test", join(root, "broken"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/x\.rego:\d+:\d+: rego_parse_error/);
  });

  it("formats durations like Go", () => {
    expect(formatDuration(0.5)).toBe("500µs");
    expect(formatDuration(1.25)).toBe("1.25ms");
    expect(formatDuration(2100)).toBe("2.1s");
  });
});

describe("portcullis check", () => {
  it("is silent on success", async () => {
    const r = await cli("check", join(root, "good"));
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  it("prints errors with file:row:col and exits 1", async () => {
    const r = await cli("check", join(root, "broken"));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^1 error occurred: .*x\.rego:\d+:\d+: rego_parse_error: /);
  });

  it("reports compile (not only parse) errors", async () => {
    const dir = tempTree({ "p.rego": "package p\n\nq if {\n  y == 1\n}\n" });
    try {
      const r = await cli("check", dir);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/p\.rego:4:3: rego_unsafe_var_error: var y is unsafe/);
    } finally {
      removeTree(dir);
    }
  });

  it("needs a path", async () => {
    expect((await cli("check")).code).toBe(2);
  });
});
