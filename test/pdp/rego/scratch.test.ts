import { readFileSync } from "node:fs";
import { test } from "vitest";
import { parseModule, parseQuery, parseTerm } from "../../../pdp/rego/parser.js";
import { showBody, showRule, showTerm } from "./show.scratch.js";
test("scratch", () => {
  const lines = readFileSync("/tmp/ptest/cases.txt", "utf8").split("\n====\n");
  const out: string[] = [];
  for (const l of lines) {
    if (!l.trim()) continue;
    const mode = l[0]; const src = l.slice(2).replace(/\\n/g, "\n");
    try {
      if (mode === "m") { const m = parseModule(src, "x.rego"); out.push(`M ${JSON.stringify(src)}\n  pkg ${showTerm(m.package)} imports ${m.imports.map((i) => showTerm(i.path) + (i.alias ? " as " + i.alias : "")).join(",")}\n` + m.rules.map((r) => "  " + showRule(r)).join("\n")); }
      else if (mode === "t") out.push(`T ${src}  =>  ${showTerm(parseTerm(src))}`);
      else out.push(`Q ${JSON.stringify(src)}  =>  ${showBody(parseQuery(src))}`);
    } catch (e) { out.push(`${mode} ${JSON.stringify(src)}  => ERR ${(e as Error).constructor.name} ${(e as Error).message}`); }
  }
  console.log(out.join("\n"));
});
