import type { Body, Expr, Rule, Term } from "../../../pdp/rego/ast.js";
export function showTerm(t: Term): string {
  switch (t.type) {
    case "null": return "null";
    case "boolean": return String(t.value);
    case "number": return t.raw;
    case "string": return JSON.stringify(t.value);
    case "var": return t.name;
    case "ref": return showTerm(t.head) + t.path.map((p) => p.type === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(p.value) ? `.${p.value}` : `[${showTerm(p)}]`).join("");
    case "array": return `[${t.items.map(showTerm).join(", ")}]`;
    case "set": return t.items.length ? `{${t.items.map(showTerm).join(", ")}}` : "set()";
    case "object": return `{${t.items.map(([k, v]) => `${showTerm(k)}: ${showTerm(v)}`).join(", ")}}`;
    case "arraycomp": return `[${showTerm(t.term)} | ${showBody(t.body)}]`;
    case "setcomp": return `{${showTerm(t.term)} | ${showBody(t.body)}}`;
    case "objectcomp": return `{${showTerm(t.key)}: ${showTerm(t.value)} | ${showBody(t.body)}}`;
    case "call": return `${showTerm(t.operator)}(${t.args.map(showTerm).join(", ")})`;
  }
}
export function showExpr(e: Expr): string {
  let s = e.negated ? "not " : "";
  switch (e.type) {
    case "expr": s += showTerm(e.term); break;
    case "some": s += `some ${e.vars.map(showTerm).join(", ")}`; break;
    case "somein": s += `some ${e.key ? showTerm(e.key) + ", " : ""}${showTerm(e.value)} in ${showTerm(e.collection)}`; break;
    case "every": s += `every ${e.key ? showTerm(e.key) + ", " : ""}${showTerm(e.value)} in ${showTerm(e.domain)} { ${showBody(e.body)} }`; break;
  }
  for (const w of e.with) s += ` with ${showTerm(w.target)} as ${showTerm(w.value)}`;
  return s;
}
export function showBody(b: Body): string { return b.exprs.map(showExpr).join("; "); }
export function showRule(r: Rule): string {
  const h = r.head;
  let s = (r.default ? "default " : "") + h.ref.map((p, i) => i === 0 ? showTerm(p) : (p.type === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(p.value) ? `.${p.value}` : `[${showTerm(p)}]`)).join("");
  if (h.args) s += `(${h.args.map(showTerm).join(", ")})`;
  if (h.contains) s += ` contains ${showTerm(h.key!)}`;
  if (h.value) s += ` ${h.assign ? ":=" : "="} ${showTerm(h.value)}`;
  s += ` if { ${showBody(r.body)} }`;
  if (r.else) s += " else" + showRule(r.else).replace(/^[^ ]*/, "");
  return s;
}
