import { test } from "vitest";
import { parseModule, parseQuery } from "../../../pdp/rego/parser.js";
test("depth", () => {
  const gens: Record<string, (n: number) => string> = {
    arr: (n) => "x := " + "[".repeat(n) + "]".repeat(n),
    paren: (n) => "x := " + "(".repeat(n) + "1" + ")".repeat(n),
    minus: (n) => "x := " + "- ".repeat(n) + "y",
    obj: (n) => "x := " + '{"a": '.repeat(n) + "1" + "}".repeat(n),
    set: (n) => "x := " + "{".repeat(n) + "1" + "}".repeat(n),
    call: (n) => "x := " + "f(".repeat(n) + "1" + ")".repeat(n),
    ref: (n) => "x := " + "a[".repeat(n) + "1" + "]".repeat(n),
    comp: (n) => "x := " + "[y | ".repeat(n) + "true" + "]".repeat(n),
    every: (n) => "every x in y { ".repeat(n) + "true" + " }".repeat(n),
    elses: (n) => "",
    brace_set_fallback: (n) => "x := " + "{a | ".repeat(n) + "b, c" + "}".repeat(n),
  };
  for (const [name, g] of Object.entries(gens)) {
    for (const n of [300, 998, 1001, 5000, 100000]) {
      const src = g(n);
      if (!src) continue;
      const t0 = performance.now();
      let res = "ok";
      try { parseQuery(src); } catch (e) { res = (e as Error).message.slice(0, 80); }
      console.log(name, n, res, (performance.now() - t0).toFixed(1) + "ms");
    }
  }
  const elses = "package x\np := 0 if false " + Array.from({ length: 20000 }, (_, i) => `else := ${i} if false`).join(" ");
  let t0 = performance.now();
  const m = parseModule(elses, "e.rego");
  console.log("elses ok", (performance.now() - t0).toFixed(1), m.rules.length);
  const backtrack = "x := " + "[a | ".repeat(30) + "b, c" + "]".repeat(30);
  t0 = performance.now();
  try { parseQuery(backtrack); console.log("bt ok"); } catch (e) { console.log("bt", (e as Error).message); }
  console.log("backtrack", (performance.now() - t0).toFixed(1));
  const bt2 = "x := " + "{k: a | ".repeat(25) + "b, c: d" + "}".repeat(25);
  t0 = performance.now();
  try { parseQuery(bt2); console.log("bt2 ok"); } catch (e) { console.log("bt2", (e as Error).message); }
  console.log("backtrack2", (performance.now() - t0).toFixed(1));
  const big = "package x\n" + Array.from({ length: 20000 }, (_, i) => `p${i} := [${i}, {"a": ${i}}] if { input.x[${i}] == ${i}; some y in input.z; y > 2 }`).join("\n");
  t0 = performance.now();
  parseModule(big, "big.rego");
  console.log("big", big.length, (performance.now() - t0).toFixed(1));
});
