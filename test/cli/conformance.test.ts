import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, removeTree, tempTree } from "./helpers.js";
import { canonical, loadCorpus, runCorpus } from "../../cli/conformance/runner.js";

let root: string;

const yaml = (cases: string) => `---\ncases:\n${cases}`;

beforeAll(() => {
  root = tempTree({
    "alpha/a.yaml": yaml(`
  - note: alpha/pass
    modules:
      - |
        package test
        p := 1
    query: data.test.p = x
    want_result:
      - x: 1
  - note: alpha/fail
    modules:
      - |
        package test
        p := 1
    query: data.test.p = x
    want_result:
      - x: 2
  - note: alpha/undefined
    query: data.test.nothing = x
    want_result: []
`),
    "beta/nested/b.yaml": yaml(`
  - note: beta/skipped
    modules:
      - |
        package test
        p := http.send({"method": "get", "url": "http://localhost"})
    query: data.test.p = x
    want_result: []
  - note: beta/error
    query: x := 1 / 0
    strict_error: true
    want_error_code: eval_builtin_error
    want_error: divide by zero
  - note: beta/parse error counts as failed
    modules:
      - "package test\\np := {"
    query: data.test.p = x
    want_result: []
  - note: beta/input_term and sort_bindings
    input_term: '{"xs": {3, 1, 2},}'
    query: x = input.xs
    sort_bindings: true
    want_result:
      - x: [1, 2, 3]
  - note: beta/runaway is bounded
    query: x := count([1 | some i in numbers.range(1, 2000); some j in numbers.range(1, 2000); some k in numbers.range(1, 2000)])
    want_result:
      - x: 8000000000
`),
  });
});
afterAll(() => removeTree(root));

describe("portcullis conformance", () => {
  it("prints exactly one JSON object with --json", async () => {
    const r = await cli("conformance", root, "--json", "--max-steps", "2000");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const summary = JSON.parse(lines[0]!);
    expect(Object.keys(summary)).toEqual(["total", "passed", "failed", "skipped", "categories"]);
    expect(summary).toEqual({
      total: 8,
      passed: 4,
      failed: 3,
      skipped: 1,
      categories: {
        alpha: { passed: 2, failed: 1, skipped: 0 },
        beta: { passed: 2, failed: 2, skipped: 1 },
      },
    });
  });

  it("filters by category", async () => {
    const r = await cli("conformance", root, "--json", "--filter", "alpha");
    const summary = JSON.parse(r.stdout);
    expect(summary.total).toBe(3);
    expect(Object.keys(summary.categories)).toEqual(["alpha"]);
  });

  it("prints a table, the unsupported builtins and failing cases with -v", async () => {
    const r = await cli("conformance", root, "-v", "--max-steps", "2000", "--filter", "alpha,beta");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^alpha\s+2\s+1\s+0$/m);
    expect(r.stdout).toContain("conformance: 4/8 passed (50.0%), 3 failed, 1 skipped");
    expect(r.stdout).toContain("skipped for unsupported builtins: http.send (1)");
    expect(r.stdout).toContain("FAIL alpha/fail");
    expect(r.stdout).toContain('expected: [{"x":2}]');
    expect(r.stdout).toContain("FAIL beta/runaway is bounded");
  });

  it("keeps -v detail off stdout with --json", async () => {
    const r = await cli("conformance", root, "--json", "-v", "--max-steps", "2000");
    expect(() => JSON.parse(r.stdout)).not.toThrow();
    expect(r.stderr).toContain("FAIL alpha/fail");
  });

  it("counts an unreadable file as a failure without stopping", () => {
    const dir = tempTree({
      "x/bad.yaml": "cases: [\n",
      "x/good.yaml": yaml("  - note: x/ok\n    query: 1 = 1\n    want_result: [{}]\n"),
    });
    try {
      const s = runCorpus(loadCorpus(dir));
      expect(s).toMatchObject({ total: 2, passed: 1, failed: 1 });
    } finally {
      removeTree(dir);
    }
  });

  it("compares canonically", () => {
    expect(canonical({ b: [1, -0], a: "x" })).toBe('{"a":"x","b":[1,0]}');
  });

  it("needs a directory", async () => {
    expect((await cli("conformance", "/nonexistent")).code).toBe(2);
  });
});
