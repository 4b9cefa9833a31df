// The input paths an entrypoint can read (pdp/rego/input_paths.ts): every IR shape `input` compiles to,
// reachability through rules, functions and `with`, and — because the decision cache relies on it — a
// property check that inputs differing only outside the read paths get identical decisions from the real
// engine.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPaths } from "../../../cli/load.js";
import { compile, toJS, type Value } from "../../../pdp/rego/index.js";
import { normalizeInputPaths } from "../../../pdp/rego/input_paths.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");

/** The read paths of `data.p.<rule>` in a one-module policy `package p` (rego.v1 imported). */
function pathsOf(rules: string, rule = "r", extra: string[] = []): string[][] | undefined {
  const policy = compile({
    modules: [
      { file: "p.rego", source: `package p\nimport rego.v1\n${rules}\n` },
      ...extra.map((source, i) => ({ file: `x${i}.rego`, source })),
    ],
  });
  const paths = policy.inputPaths(["p", rule]);
  return paths === undefined ? undefined : paths.map((p) => [...p]);
}

describe("input paths: IR shapes", () => {
  it("a ref with head input reads its constant string prefix", () => {
    expect(pathsOf(`r if input.a.b == "x"`)).toEqual([["a", "b"]]);
    expect(pathsOf(`r if input["a.b"]["c"] == 1`)).toEqual([["a.b", "c"]]);
  });

  it("a variable, a number or a computed key ends the prefix", () => {
    expect(pathsOf(`r if input.a[x] == 1`)).toEqual([["a"]]);
    expect(pathsOf(`r if input.a[0].b == 1`)).toEqual([["a"]]);
    expect(pathsOf(`r if input.a[_]`)).toEqual([["a"]]);
    expect(pathsOf(`r if input.a[concat("", ["b"])] == 1`)).toEqual([["a"]]);
    // The key is itself a read.
    expect(pathsOf(`r if input.a[input.k] == 1`)).toEqual([["a"], ["k"]]);
  });

  it("a first segment that is not a constant string reads the whole input", () => {
    expect(pathsOf(`r if input[x] == 1`)).toBeUndefined();
    expect(pathsOf(`r if input[0] == 1`)).toBeUndefined();
  });

  it("a bare input anywhere reads the whole input", () => {
    expect(pathsOf(`r if count(input) > 0`)).toBeUndefined();
    expect(pathsOf(`r := input`)).toBeUndefined();
    expect(pathsOf(`r if object.get(input, ["a", "b"], 0) == 1`)).toBeUndefined();
    expect(pathsOf(`r if walk(input, [p, v])`)).toBeUndefined();
    expect(pathsOf(`r if { x := input; x.a == 1 }`)).toBeUndefined();
  });

  it("a call argument reads what it names", () => {
    expect(pathsOf(`r if object.get(input.a, ["b"], 0) == 1`)).toEqual([["a"]]);
    expect(pathsOf(`r if { walk(input.x, [p, v]); v == 1 }`)).toEqual([["x"]]);
    expect(pathsOf(`r if startswith(input.request.path, "/a")`)).toEqual([["request", "path"]]);
  });

  it("rule heads: values, keys, contains and partial-object refs", () => {
    expect(pathsOf(`r := input.v`)).toEqual([["v"]]);
    expect(pathsOf(`r := {"k": input.v} if true`)).toEqual([["v"]]);
    expect(pathsOf(`r contains input.s if true`)).toEqual([["s"]]);
    expect(pathsOf(`r[input.k] := input.v if true`)).toEqual([["k"], ["v"]]);
    expect(pathsOf(`default r := 1\nr := 2 if input.x`)).toEqual([["x"]]);
    expect(pathsOf(`r := 1 if input.a else := 2 if input.b`)).toEqual([["a"], ["b"]]);
  });

  it("comprehensions, some … in, every, not and print", () => {
    expect(pathsOf(`r := [x | some x in input.xs; x > input.min]`)).toEqual([["min"], ["xs"]]);
    expect(pathsOf(`r := {k: v | some k, v in input.o}`)).toEqual([["o"]]);
    expect(pathsOf(`r := {x | x := input.s[_]}`)).toEqual([["s"]]);
    expect(pathsOf(`r if every x in input.xs { x < input.max }`)).toEqual([["max"], ["xs"]]);
    expect(pathsOf(`r if not input.blocked`)).toEqual([["blocked"]]);
    expect(pathsOf(`r if input.m in input.allowed`)).toEqual([["allowed"], ["m"]]);
    expect(pathsOf(`r if { print(input.p); true }`)).toEqual([["p"]]);
  });

  it("imports of input are refs with head input", () => {
    expect(pathsOf(`import input.token.claims as c\nr if c.sub == "a"`)).toEqual([
      ["token", "claims", "sub"],
    ]);
    expect(pathsOf(`import input.token\nr if token.scopes[_] == "a"`)).toEqual([["token", "scopes"]]);
  });

  it("a function parameter named input", () => {
    const policy = compile({
      modules: [
        { file: "p.rego", source: `package p\nimport rego.v1\nf(input) := input.a\nr := f({"a": 1})` },
      ],
    });
    // A parameter named `input` is the input (the argument is unified with it), so the whole input is read.
    expect(policy.inputPaths(["p", "r"])).toBeUndefined();
    expect(policy.evalPath(["p", "r"], { input: { a: 2 } })).toBeUndefined();
    expect(policy.evalPath(["p", "r"], { input: { a: 1 } })).toBe(1);
  });

  it("with input … reads the whole input; with data … reads what its value reads", () => {
    expect(pathsOf(`q if input.a\nr if q with input as {"a": true}`, "r")).toBeUndefined();
    expect(pathsOf(`q if input.a\nr if q with input.a as true`, "r")).toBeUndefined();
    expect(pathsOf(`q := data.d.x\nr if q with data.d.x as input.v`, "r")).toEqual([["v"]]);
  });

  it("sorts, drops duplicates and paths below another read path", () => {
    expect(pathsOf(`r if { input.b.c; input.a; input.b; input.a.z; input.b.c.d }`)).toEqual([["a"], ["b"]]);
    expect(normalizeInputPaths([["b"], ["a", "x"], ["a"], ["a", "x"], ["ab"]])).toEqual([
      ["a"],
      ["ab"],
      ["b"],
    ]);
    expect(normalizeInputPaths([["a"], []])).toBeUndefined();
    expect(normalizeInputPaths([])).toEqual([]);
  });
});

describe("input paths: reachability", () => {
  it("follows rules and functions the entrypoint uses, and nothing else", () => {
    const rules = `
      r if { q; f(1) }
      q if input.q
      f(x) := y if y := x + input.f
      unrelated if input.secret
      g(x) if input.g
    `;
    expect(pathsOf(rules)).toEqual([["f"], ["q"]]);
    expect(pathsOf(rules, "unrelated")).toEqual([["secret"]]);
  });

  it("follows rules in other packages through refs and imports", () => {
    const lib = `package lib\nimport rego.v1\nallowed if input.user == "a"\nh(x) if x == input.h\nother if input.o`;
    expect(pathsOf(`import data.lib\nr if { lib.allowed; lib.h(1) }`, "r", [lib])).toEqual([["h"], ["user"]]);
    expect(pathsOf(`r if data.lib.allowed`, "r", [lib])).toEqual([["user"]]);
  });

  it("a whole-document read reaches every rule below it", () => {
    const lib = `package lib\nimport rego.v1\na if input.a\nb if input.b\nsub.c if input.c`;
    expect(pathsOf(`r := data.lib`, "r", [lib])).toEqual([["a"], ["b"], ["c"]]);
    expect(pathsOf(`r := data.lib.sub`, "r", [lib])).toEqual([["c"]]);
  });

  it("a dynamic data ref reaches every rule below its constant prefix", () => {
    const lib = `package lib\nimport rego.v1\na if input.a\nb if input.b\nsub.c if input.c`;
    expect(pathsOf(`r if data.lib[input.k]`, "r", [lib])).toEqual([["a"], ["b"], ["c"], ["k"]]);
    expect(pathsOf(`r if data[input.k]`, "r", [lib])).toEqual([["a"], ["b"], ["c"], ["k"]]);
    // Reading all of `data` from a rule would be recursive; as an entrypoint it reaches every rule.
    const all = compile({ modules: [{ file: "lib.rego", source: lib }] });
    expect(all.inputPaths([])).toEqual([["a"], ["b"], ["c"]]);
  });

  it("a rule above the path read counts (its document contains the path)", () => {
    const lib = `package lib\nimport rego.v1\nobj[k] := v if { some k, v in input.o }`;
    expect(pathsOf(`r := data.lib.obj.x`, "r", [lib])).toEqual([["o"]]);
  });

  it("a with that replaces a function by another reaches the replacement", () => {
    const rules = `
      f(x) := input.f
      g(x) := input.g
      q := f(1)
      r := x if x := q with f as g
      s := x if x := q with f as 5
    `;
    expect(pathsOf(rules, "r")).toEqual([["f"], ["g"]]);
    expect(pathsOf(rules, "s")).toEqual([["f"]]);
    expect(pathsOf(`q := time.now_ns()\nmock := input.t\nr := x if x := q with time.now_ns as mock`)).toEqual(
      [["t"]],
    );
  });

  it("an entrypoint with no rules reads nothing; a base document too", () => {
    const policy = compile({
      modules: [{ file: "p.rego", source: "package p\nimport rego.v1\nr if input.x" }],
      data: { cfg: { a: 1 } },
    });
    expect(policy.inputPaths(["nope"])).toEqual([]);
    expect(policy.inputPaths(["cfg", "a"])).toEqual([]);
    expect(policy.inputPaths(["p"])).toEqual([["x"]]);
    expect(policy.inputPaths([])).toEqual([["x"]]);
  });

  it("is memoised and frozen", () => {
    const policy = compile({
      modules: [{ file: "p.rego", source: "package p\nimport rego.v1\nr if input.x.y" }],
    });
    const a = policy.inputPaths(["p", "r"]);
    expect(policy.inputPaths(["p", "r"])).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a![0])).toBe(true);
  });
});

// ---------------------------------------------------------------- the shipped policy

const SHIPPED = loadPaths([join(ROOT, "policies")]);

describe("input paths: the shipped policy", () => {
  const policy = compile({ modules: SHIPPED.modules, data: SHIPPED.data });

  it("its test module is compiled in (as the gateway loads it) but not reachable from the decision", () => {
    expect(SHIPPED.modules.some((m) => m.file.endsWith("authz_test.rego"))).toBe(true);
    // The tests use `with input as`; reached, that would mean the whole input.
    expect(policy.inputPaths(["portcullis", "authz_test"])).toBeUndefined();
  });

  it("reads exactly these paths for data.portcullis.authz.decision", () => {
    expect(policy.inputPaths(["portcullis", "authz", "decision"])).toEqual([
      ["attestation", "age_seconds"],
      ["attestation", "status"],
      ["caller", "type"],
      ["delegation", "chain"],
      ["delegation", "depth"],
      ["request", "method"],
      ["request", "path"],
      ["rpc", "tool"],
      ["segment"],
      ["token", "claims", "roles"],
      ["token", "scopes"],
    ]);
  });
});

// ---------------------------------------------------------------- property: decisions agree

/** A small deterministic PRNG (mulberry32), so a failure names the seed that reproduces it. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomJson(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 2 ? 5 : 8));
  switch (k) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return Math.floor(r() * 2000) - 1000;
    case 3:
      return ["payments", "public", "ai-agent", "/payments/balance", "GET", "x"][Math.floor(r() * 6)];
    case 4:
      return r().toString(36).slice(2, 8);
    case 5:
      return Array.from({ length: Math.floor(r() * 3) }, () => randomJson(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 4); i > 0; i--)
        o[["a", "sub", "jti", "exp", "roles"][Math.floor(r() * 5)]!] = randomJson(r, depth + 1);
      return o;
    }
  }
}

/** A copy of `input` with random changes everywhere except at and below the read paths. */
function perturbOutside(
  input: unknown,
  paths: readonly (readonly string[])[],
  r: () => number,
  at: string[] = [],
): unknown {
  if (paths.some((p) => p.length <= at.length && p.every((s, i) => s === at[i]))) return input; // read whole
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    // Above a read path a non-object stays what it is (it decides whether the path exists).
    return input;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    const below = [...at, k];
    const onPath = paths.some((p) => p.length > at.length && p[at.length] === k);
    if (onPath) out[k] = perturbOutside(v, paths, r, below);
    else if (r() < 0.3)
      continue; // dropped
    else out[k] = r() < 0.5 ? v : randomJson(r, 1);
  }
  // New members that no read path names.
  for (let i = Math.floor(r() * 3); i > 0; i--) {
    const k = `extra_${Math.floor(r() * 1000)}`;
    if (!paths.some((p) => p.length > at.length && p[at.length] === k)) out[k] = randomJson(r, 1);
  }
  return out;
}

function baseInput(r: () => number): Record<string, unknown> {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const now = 1_700_000_000 + Math.floor(r() * 1000);
  return {
    segment: pick(["payments", "public", "nope"]),
    request: {
      method: pick(["GET", "POST", "DELETE"]),
      path: pick(["/", "/payments/balance", "/payments/transfer", "/mcp", "/x"]),
      headers: { accept: "*/*", "x-request-id": "r-1" },
      time_ns: now * 1e9,
    },
    authn: { methods: ["mtls", "bearer"], subject: "spiffe://demo.portcullis/agent/planner" },
    caller: { type: pick(["ai-agent", "service", "user", "unknown"]) },
    attestation: pick([
      { status: "none" },
      { status: "affirming", age_seconds: Math.floor(r() * 600) },
      { status: "affirming" },
      { status: "contraindicated" },
    ]),
    token: {
      type: "jwt",
      claims: {
        sub: "user:alice",
        jti: r().toString(36),
        iat: now,
        exp: now + 3600,
        roles: pick([[], ["admin"], ["teller", "x"]]),
      },
      scopes: pick([["payments:read"], ["payments:read", "payments:write"], [], ["public:read"]]),
    },
    ...(r() < 0.5 ? { rpc: { tool: pick(["get_balance", "transfer", "nope"]), method: "tools/call" } } : {}),
    ...(r() < 0.4
      ? {
          delegation: {
            depth: Math.floor(r() * 3),
            chain: [{ sub: "user:alice" }, { sub: pick(["spiffe://demo.portcullis/agent/planner", 7, "x"]) }],
          },
        }
      : {}),
  };
}

describe("input paths: decisions agree on inputs that differ only outside the read paths", () => {
  it("the shipped policy, 300 random inputs and variants", () => {
    const policy = compile({ modules: SHIPPED.modules, data: SHIPPED.data });
    const entry = ["portcullis", "authz", "decision"];
    const paths = policy.inputPaths(entry)!;
    const decide = (input: unknown) => {
      const v = policy.evalPath(entry, { input: input as Value });
      return v === undefined ? undefined : toJS(v);
    };
    const seen = new Set<string>();
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const a = baseInput(r);
      const b = perturbOutside(a, paths, r);
      const da = decide(a);
      expect(decide(b), `seed ${seed}`).toEqual(da);
      seen.add(JSON.stringify(da));
    }
    // The inputs reach more than one kind of answer, so the comparison means something.
    expect(seen.size).toBeGreaterThan(3);
  });

  it("a policy with iteration, comprehensions and functions", () => {
    const source = `package q
import rego.v1
default decision := {"allow": false}
decision := {"allow": true, "n": count(hits), "who": who} if { count(hits) > 0; not blocked }
hits contains x if { some x in input.a; x == input.sub }
blocked if { some k, v in input.o; k == "a"; v == true }
who := w if w := object.get(input.o, "sub", "nobody")
`;
    const policy = compile({ modules: [{ file: "q.rego", source }] });
    const entry = ["q", "decision"];
    const paths = policy.inputPaths(entry)!;
    expect(paths).toEqual([["a"], ["o"], ["sub"]]);
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed);
      const a = randomJson(r, 0);
      const input =
        typeof a === "object" && a !== null && !Array.isArray(a)
          ? { ...a, exp: 1, sub: "a" }
          : { a: [1, "a"], sub: "a" };
      const b = perturbOutside(input, paths, r);
      const run = (i: unknown) => {
        const v = policy.evalPath(entry, { input: i as Value });
        return v === undefined ? undefined : toJS(v);
      };
      expect(run(b), `seed ${seed}`).toEqual(run(input));
    }
  });
});
