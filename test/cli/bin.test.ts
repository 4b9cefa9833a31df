// The installed binary: bin/portcullis.js running the build in dist/.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeTree, tempTree } from "./helpers.js";

const repo = resolve(import.meta.dirname, "../..");
const bin = join(repo, "bin", "portcullis.js");
let root: string;

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: root });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  // `npm ci` builds through `prepare`; build here when run from a bare checkout.
  if (!existsSync(join(repo, "dist", "cli", "main.js"))) {
    execFileSync(
      process.execPath,
      [join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
      {
        cwd: repo,
        stdio: "inherit",
      },
    );
  }
  root = tempTree({
    "p.rego": "package p\n\nallow if input.ok\n",
    "p_test.rego": 'package p\n\ntest_allow if allow with input as {"ok": true}\n\ntest_deny if allow\n',
    "input.json": '{"ok": true}',
  });
}, 120_000);
afterAll(() => removeTree(root));

describe("bin/portcullis.js", () => {
  it("prints usage", () => {
    const r = run("--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: portcullis <command>");
    expect(run().code).toBe(2);
    expect(run("frobnicate").code).toBe(2);
  });

  it("evaluates", () => {
    const r = run("eval", "-d", "p.rego", "-i", "input.json", "data.p.allow");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      result: [{ expressions: [{ value: true, text: "data.p.allow", location: { row: 1, col: 1 } }] }],
    });
  });

  it("exits 1 when a test fails", () => {
    const r = run("test", ".");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/data\.p\.test_deny: FAIL/);
    expect(r.stdout).toContain("PASS: 1/2\nFAIL: 1/2\n");
  });

  it("rejects unknown options with exit 2", () => {
    const r = run("eval", "--bogus", "1");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--bogus");
  });
});
