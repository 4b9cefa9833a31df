import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { cli, removeTree, tempTree } from "./helpers.js";

let root: string;

beforeAll(() => {
  root = tempTree({
    "policy/authz.rego": [
      "package authz",
      "",
      "default allow := false",
      "",
      'allow if input.user == "alice"',
      "",
      "roles contains r if some r in data.roles[input.user]",
      "",
      "big := 12345678901234567890123",
      "",
      "f(x) := x * 2",
      "",
    ].join("\n"),
    "policy/roles/data.json": JSON.stringify({ alice: ["admin", "dev"], bob: ["dev"] }),
    "policy/lib/data.yaml": "limits:\n  max: 3\n",
    "input.json": JSON.stringify({ user: "alice" }),
    "broken/bad.rego": "package bad\n\np := {\n",
    "unsafe/u.rego": "package u\n\np if {\n  x > 1\n}\n",
  });
});
afterAll(() => removeTree(root));

async function evalJSON(...args: string[]) {
  const r = await cli("eval", ...args);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as {
    result?: { expressions: { value: unknown; text: string; location: unknown }[]; bindings?: unknown }[];
  };
}

describe("portcullis eval", () => {
  it("prints a single expression's value in opa eval's json shape", async () => {
    const out = await evalJSON(
      "-d",
      join(root, "policy"),
      "-i",
      join(root, "input.json"),
      "data.authz.allow",
    );
    expect(out).toEqual({
      result: [{ expressions: [{ value: true, text: "data.authz.allow", location: { row: 1, col: 1 } }] }],
    });
  });

  it("evaluates expressions that are not refs", async () => {
    const out = await evalJSON("1 + 1");
    expect(out.result?.[0]?.expressions[0]?.value).toBe(2);
    expect(out.result?.[0]).not.toHaveProperty("bindings");
  });

  it("shows bindings for assignments, with the expression value true", async () => {
    const out = await evalJSON("x := 1");
    expect(out).toEqual({
      result: [
        { expressions: [{ value: true, text: "x := 1", location: { row: 1, col: 1 } }], bindings: { x: 1 } },
      ],
    });
  });

  it("prints one row per solution and one expression item per expression", async () => {
    const out = await evalJSON(
      "-d",
      join(root, "policy"),
      "-i",
      join(root, "input.json"),
      "r := data.authz.roles[_]; count(r) > 0",
    );
    expect(out.result).toHaveLength(2);
    const rows = out.result!.map((r) => r.bindings);
    expect(rows).toEqual(expect.arrayContaining([{ r: "admin" }, { r: "dev" }]));
    for (const row of out.result!) {
      expect(row.expressions).toHaveLength(2);
      expect(row.expressions[0]).toMatchObject({ value: true, location: { row: 1, col: 1 } });
      expect(row.expressions[1]).toMatchObject({ value: true, text: "count(r) > 0" });
    }
  });

  it("merges data files under their directory path", async () => {
    const out = await evalJSON("-d", join(root, "policy"), "data.lib.limits.max");
    expect(out.result?.[0]?.expressions[0]?.value).toBe(3);
    const roles = await evalJSON("-d", join(root, "policy"), "data.roles.bob");
    expect(roles.result?.[0]?.expressions[0]?.value).toEqual(["dev"]);
  });

  it("reads input and serialises sets as arrays", async () => {
    const out = await evalJSON(
      "-d",
      join(root, "policy"),
      "-i",
      join(root, "input.json"),
      "data.authz.roles",
    );
    expect(out.result?.[0]?.expressions[0]?.value).toEqual(["admin", "dev"]);
  });

  it("keeps big integers exact in the output text", async () => {
    const r = await cli("eval", "-d", join(root, "policy"), "data.authz.big");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"value": 12345678901234567890123');
  });

  it("reports values of expressions with `with` and ignores comments", async () => {
    const out = await evalJSON('input.a with input as {"a": "#5"} # why\n1 + 1 # two');
    expect(out.result?.[0]?.expressions).toEqual([
      { value: "#5", text: 'input.a with input as {"a": "#5"}', location: { row: 1, col: 1 } },
      { value: 2, text: "1 + 1", location: { row: 2, col: 1 } },
    ]);
  });

  it("reports true for calls with an output argument", async () => {
    const out = await evalJSON("count([1, 2], n)");
    expect(out.result).toEqual([
      {
        expressions: [{ value: true, text: "count([1, 2], n)", location: { row: 1, col: 1 } }],
        bindings: { n: 2 },
      },
    ]);
  });

  it("calls functions", async () => {
    const out = await evalJSON("-d", join(root, "policy"), "data.authz.f(21)");
    expect(out.result?.[0]?.expressions[0]?.value).toBe(42);
  });

  it("prints {} when the query is undefined, and a lone false expression's value", async () => {
    const r = await cli("eval", "data.nothing.here");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({});
    for (const q of ["1 > 2", "false"]) {
      const f = await cli("eval", q);
      expect(f.code).toBe(0);
      expect(JSON.parse(f.stdout).result[0].expressions[0].value).toBe(false);
    }
    const multi = await cli("eval", "x := 1; x > 2");
    expect(JSON.parse(multi.stdout)).toEqual({});
  });

  it("has a pretty format", async () => {
    const r = await cli("eval", "--format", "pretty", "x := [1, 2][_]");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("| x |");
    const v = await cli("eval", "--format", "pretty", "1 + 2");
    expect(v.stdout.trim()).toBe("3");
  });

  it("reports parse errors with file:row:col and exits 1", async () => {
    const r = await cli("eval", "-d", join(root, "broken"), "data.bad.p");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/error(s)? occurred/);
    expect(r.stderr).toMatch(/bad\.rego:\d+:\d+: rego_parse_error: /);
  });

  it("reports compile errors with their code", async () => {
    const r = await cli("eval", "-d", join(root, "unsafe"), "data.u.p");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/u\.rego:4:3: rego_unsafe_var_error: var x is unsafe/);
  });

  it("reports query errors and eval errors", async () => {
    const parse = await cli("eval", "x := ");
    expect(parse.code).toBe(1);
    expect(parse.stderr).toContain("rego_parse_error");
    const strict = await cli("eval", "--strict-builtin-errors", "x := 1 / 0");
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain("divide by zero");
  });

  it("reports a missing -d path and bad usage", async () => {
    const missing = await cli("eval", "-d", join(root, "nope"), "1");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no such file or directory");
    const usage = await cli("eval");
    expect(usage.code).toBe(2);
  });
});
