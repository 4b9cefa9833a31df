// Robustness fuzzing of the Rego lexer/parser: whatever the input, parsing
// either succeeds with a well-formed AST or throws a located RegoError — never
// another exception, never a hang. Inputs come from a seeded PRNG; a failure
// prints the seed and the input, and FUZZ_SEED=<n> replays a run.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYAML } from "yaml";
import type { Body, Expr, Location, Module, Rule, Term } from "../../../pdp/rego/ast.js";
import { RegoError, RegoErrors } from "../../../pdp/rego/errors.js";
import { KEYWORDS } from "../../../pdp/rego/lexer.js";
import { parseModule, parseQuery, parseTerm } from "../../../pdp/rego/parser.js";

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_2024);

/** mulberry32: tiny, fast, good enough for fuzzing, and reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CONFORMANCE = join(import.meta.dirname, "../../../../shared/conformance/opa");

function corpusModules(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".yaml")) {
        const doc = parseYAML(readFileSync(p, "utf8")) as { cases?: { modules?: string[] }[] };
        for (const c of doc.cases ?? []) out.push(...(c.modules ?? []));
      }
    }
  };
  walk(CONFORMANCE);
  return out;
}

const TOKENS = [
  ...KEYWORDS,
  "data",
  "input",
  "x",
  "_",
  "f",
  "set",
  "count",
  "[",
  "]",
  "{",
  "}",
  "(",
  ")",
  ",",
  ":",
  ";",
  ".",
  "|",
  "&",
  "+",
  "-",
  "*",
  "/",
  "%",
  "=",
  "==",
  ":=",
  "!=",
  "<",
  "<=",
  ">",
  ">=",
  "0",
  "1",
  "-1",
  "1.5e3",
  "01",
  "1.",
  '"s"',
  '"\\u00e9"',
  '"\\ud800"',
  '"',
  "`raw`",
  "`",
  "#",
  "\n",
  " ",
  "\t",
  "\r\n",
  "$",
  "!",
  "\u0000",
  "\ufeff",
  "😀",
  "\ud800",
];

function randomString(rand: () => number, len: number): string {
  let s = "";
  for (let i = 0; i < len; i++) {
    const r = rand();
    if (r < 0.55) s += String.fromCharCode(32 + Math.floor(rand() * 95));
    else if (r < 0.75) s += '[]{}()|&,.:;=-+*/%<>!"`#_\n '[Math.floor(rand() * 28)];
    else if (r < 0.9) s += TOKENS[Math.floor(rand() * TOKENS.length)];
    else s += String.fromCharCode(Math.floor(rand() * 0x10000));
  }
  return s;
}

function tokenSoup(rand: () => number, len: number): string {
  const parts = rand() < 0.7 ? ["package p\n"] : [];
  for (let i = 0; i < len; i++)
    parts.push(TOKENS[Math.floor(rand() * TOKENS.length)]!, rand() < 0.6 ? " " : "");
  return parts.join("");
}

function mutate(rand: () => number, src: string, donors: string[]): string {
  const n = 1 + Math.floor(rand() * 4);
  let s = src;
  const pos = (): number => Math.floor(rand() * (s.length + 1));
  for (let i = 0; i < n; i++) {
    const a = pos();
    const b = Math.min(s.length, a + Math.floor(rand() * 24));
    switch (Math.floor(rand() * 7)) {
      case 0: // delete a slice
        s = s.slice(0, a) + s.slice(b);
        break;
      case 1: {
        // insert a slice of another module
        const d = donors[Math.floor(rand() * donors.length)]!;
        const c = Math.floor(rand() * d.length);
        s = s.slice(0, a) + d.slice(c, c + Math.floor(rand() * 40)) + s.slice(a);
        break;
      }
      case 2: // duplicate a slice
        s = s.slice(0, b) + s.slice(a, b) + s.slice(b);
        break;
      case 3: {
        // swap two slices
        const c = pos();
        const d = Math.min(s.length, c + Math.floor(rand() * 24));
        if (b <= c) s = s.slice(0, a) + s.slice(c, d) + s.slice(b, c) + s.slice(a, b) + s.slice(d);
        break;
      }
      case 4: // insert a token
        s = s.slice(0, a) + TOKENS[Math.floor(rand() * TOKENS.length)] + s.slice(a);
        break;
      case 5: // replace a character
        s = s.slice(0, a) + randomString(rand, 1) + s.slice(a + 1);
        break;
      default: // truncate
        s = s.slice(0, a);
    }
  }
  return s;
}

// ------------------------------------------------------------- checks

function checkLoc(loc: Location | undefined, file: string, what: string): void {
  if (!loc || loc.file !== file || !Number.isInteger(loc.row) || !Number.isInteger(loc.col)) {
    throw new Error(`bad location on ${what}: ${JSON.stringify(loc)}`);
  }
  if (loc.row < 1 || loc.col < 1) throw new Error(`bad location on ${what}: ${JSON.stringify(loc)}`);
}

function checkTerm(t: Term, file: string): void {
  checkLoc(t.loc, file, t.type);
  switch (t.type) {
    case "ref":
      checkTerm(t.head, file);
      t.path.forEach((p) => checkTerm(p, file));
      break;
    case "array":
    case "set":
      t.items.forEach((x) => checkTerm(x, file));
      break;
    case "object":
      for (const [k, v] of t.items) {
        checkTerm(k, file);
        checkTerm(v, file);
      }
      break;
    case "arraycomp":
    case "setcomp":
      checkTerm(t.term, file);
      checkBody(t.body, file);
      break;
    case "objectcomp":
      checkTerm(t.key, file);
      checkTerm(t.value, file);
      checkBody(t.body, file);
      break;
    case "call":
      checkTerm(t.operator, file);
      t.args.forEach((x) => checkTerm(x, file));
      break;
    case "number":
      if (!/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(t.raw)) throw new Error(`bad number ${t.raw}`);
      break;
    default:
  }
}

function checkExpr(e: Expr, file: string): void {
  checkLoc(e.loc, file, e.type);
  switch (e.type) {
    case "expr":
      checkTerm(e.term, file);
      break;
    case "some":
      e.vars.forEach((v) => checkTerm(v, file));
      break;
    case "somein":
      if (e.key) checkTerm(e.key, file);
      checkTerm(e.value, file);
      checkTerm(e.collection, file);
      break;
    case "every":
      if (e.key) checkTerm(e.key, file);
      checkTerm(e.value, file);
      checkTerm(e.domain, file);
      checkBody(e.body, file);
      break;
  }
  for (const w of e.with) {
    checkLoc(w.loc, file, "with");
    checkTerm(w.target, file);
    checkTerm(w.value, file);
  }
}

function checkBody(b: Body, file: string): void {
  checkLoc(b.loc, file, "body");
  b.exprs.forEach((e) => checkExpr(e, file));
}

function checkRule(r: Rule, mod: Module, file: string): void {
  if (r.module !== mod) throw new Error("rule without module back-pointer");
  checkLoc(r.loc, file, "rule");
  checkLoc(r.head.loc, file, "head");
  if (r.head.ref.length === 0 || r.head.ref[0]!.type !== "var") throw new Error("bad rule ref");
  r.head.ref.forEach((t) => checkTerm(t, file));
  r.head.args?.forEach((t) => checkTerm(t, file));
  if (r.head.key) checkTerm(r.head.key, file);
  if (r.head.value) checkTerm(r.head.value, file);
  if (r.body.exprs.length === 0) throw new Error("empty rule body");
  checkBody(r.body, file);
  if (r.else) checkRule(r.else, mod, file);
}

/** Runs one parse; returns "ok" or "error", throws if the contract is broken. */
function exercise(fn: () => void, file: string): "ok" | "error" {
  try {
    fn();
    return "ok";
  } catch (e) {
    const errs = e instanceof RegoErrors ? e.errors : e instanceof RegoError ? [e] : null;
    if (errs === null) throw new Error(`non-RegoError thrown: ${String(e)}`);
    for (const err of errs) {
      if (err.code !== "rego_parse_error") throw new Error(`unexpected code ${err.code}`);
      checkLoc(err.location, file, "error");
      if (err.detail.startsWith("internal parser error")) throw new Error(err.message);
    }
    return "error";
  }
}

describe("parser fuzzing", () => {
  it("parses or fails with a located RegoError on 10 000+ random and mutated inputs", () => {
    const rand = prng(SEED);
    const modules = corpusModules();
    expect(modules.length).toBeGreaterThan(500);
    const inputs: string[] = [];
    for (let i = 0; i < 3000; i++) inputs.push(randomString(rand, Math.floor(rand() * 200)));
    for (let i = 0; i < 2000; i++) inputs.push(tokenSoup(rand, Math.floor(rand() * 60)));
    for (let i = 0; i < 6000; i++) {
      inputs.push(mutate(rand, modules[Math.floor(rand() * modules.length)]!, modules));
    }

    const t0 = performance.now();
    const tally = { ok: 0, error: 0 };
    inputs.forEach((src, i) => {
      const file = `fuzz-${i}.rego`;
      try {
        tally[
          exercise(() => {
            const mod = parseModule(src, file);
            checkLoc({ ...mod.package.loc }, file, "package");
            for (const r of mod.rules) checkRule(r, mod, file);
          }, file)
        ]++;
        if (i % 3 === 0) {
          // The same text as a query (dropping the package line) and as a term.
          const body = src.replace(/^\s*package[^\n]*\n?/, "");
          tally[exercise(() => checkBody(parseQuery(body, file), file), file)]++;
          tally[exercise(() => checkTerm(parseTerm(body, file), file), file)]++;
        }
      } catch (e) {
        throw new Error(`FUZZ_SEED=${SEED} input #${i} ${JSON.stringify(src)}: ${(e as Error).message}`);
      }
    });
    const elapsed = performance.now() - t0;
    console.log(
      `fuzz: ${inputs.length} modules (+ queries/terms): ${tally.ok} parsed, ${tally.error} rejected, ${elapsed.toFixed(0)} ms`,
    );
    expect(tally.ok + tally.error).toBeGreaterThanOrEqual(10_000);
    // Mutations must leave some inputs valid, or the fuzzer only tests the error paths.
    expect(tally.ok).toBeGreaterThan(500);
    expect(elapsed).toBeLessThan(15_000);
  });

  it("survives pathological nesting and long inputs", () => {
    const rand = prng(SEED + 1);
    const openers = ["[", "{", "(", "f(", "a[", "- ", "[x | ", "{x: ", "not ", "every x in y { "];
    for (let i = 0; i < 200; i++) {
      let s = "package p\nq := ";
      const n = Math.floor(rand() * 3000);
      for (let k = 0; k < n; k++) s += openers[Math.floor(rand() * openers.length)];
      if (rand() < 0.5) s += "1" + "]})".repeat(Math.floor(rand() * n));
      exercise(() => parseModule(s, "deep.rego"), "deep.rego");
    }
  });
});
