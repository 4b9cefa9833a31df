// Writing results as JSON text the way OPA does (2-space indentation), with Rego
// values written exactly (sets as sorted arrays, big numbers in full).
import { toJSONText, type Value } from "../pdp/rego/index.js";

/** A Rego value placed inside a plain JS structure that `writeJSON` writes. */
export class RegoValue {
  constructor(readonly value: Value) {}
}

/** JSON text of plain data whose leaves may be RegoValues; `indent` as JSON.stringify's. */
export function writeJSON(node: unknown, indent = "  ", cur = ""): string {
  if (node instanceof RegoValue) {
    const text = toJSONText(node.value, indent);
    return indent ? text.replace(/\n/g, "\n" + cur) : text;
  }
  if (node === null || node === undefined) return "null";
  if (typeof node !== "object") return JSON.stringify(node);
  const inner = cur + indent;
  const nl = indent ? "\n" : "";
  if (Array.isArray(node)) {
    if (node.length === 0) return "[]";
    return "[" + nl + node.map((x) => inner + writeJSON(x, indent, inner)).join("," + nl) + nl + cur + "]";
  }
  const keys = Object.keys(node).filter((k) => (node as Record<string, unknown>)[k] !== undefined);
  if (keys.length === 0) return "{}";
  const sepr = indent ? ": " : ":";
  const items = keys.map(
    (k) => inner + JSON.stringify(k) + sepr + writeJSON((node as Record<string, unknown>)[k], indent, inner),
  );
  return "{" + nl + items.join("," + nl) + nl + cur + "}";
}
