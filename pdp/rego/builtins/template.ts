// strings.render_template: Go text/template over the variables object, as
// OPA's topdown/template.go runs it. OPA decodes the variables from their
// Rego text with encoding/json (numbers as json.Number), executes with Go's
// default missing-key behaviour and then rewrites Go's "<no value>" as
// "<undefined>" (the whole output, literally, as OPA does).
import type { BuiltinDef } from "./registry.js";
import { isArray, isBigNum, isSet, objectEntries, toRegoText, type ObjectV, type Value } from "../value.js";
import { numToString } from "../number.js";
import { builtinErr, def, objArg, strArg } from "./lib/args.js";
import { isPrint, quote } from "./lib/gofmt.js";
import { JSONSyntaxError, parseJSON } from "./lib/gojson.js";
import { JNum, TemplateError, renderGoTemplate, type JD } from "./lib/gotemplate.js";

const NAME = "strings.render_template";

/**
 * True when OPA's round trip through the value's Rego text cannot be
 * decoded as JSON: sets, non-string keys, and strings whose strconv.Quote
 * form uses escapes JSON lacks (\a, \v, \x.., \U........).
 */
function breaksJSON(v: Value): boolean {
  if (typeof v === "string") return badString(v);
  if (v === null || typeof v !== "object" || isBigNum(v)) return false;
  if (isSet(v)) return true;
  if (isArray(v)) return v.some(breaksJSON);
  return objectEntries(v).some(([k, x]) => typeof k !== "string" || badString(k) || breaksJSON(x));
}

function badString(s: string): boolean {
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20) {
      if (cp !== 8 && cp !== 9 && cp !== 10 && cp !== 12 && cp !== 13) return true;
    } else if (cp === 0x7f) return true;
    else if (cp > 0xffff && !isPrint(cp)) return true;
  }
  return false;
}

/** Term.String() with Go's string quoting, which is what OPA feeds the JSON decoder. */
function goRegoText(v: Value): string {
  if (typeof v === "string") return quote(v);
  if (v === null || typeof v !== "object" || isBigNum(v)) return toRegoText(v);
  if (isArray(v)) return "[" + v.map(goRegoText).join(", ") + "]";
  if (isSet(v)) return v.size === 0 ? "set()" : "{" + v.sorted().map(goRegoText).join(", ") + "}";
  return (
    "{" +
    objectEntries(v)
      .map(([k, x]) => goRegoText(k) + ": " + goRegoText(x))
      .join(", ") +
    "}"
  );
}

function toData(v: Value): JD {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number" || isBigNum(v)) return new JNum(numToString(v));
  if (isArray(v)) return v.map(toData);
  if (isSet(v)) return v.sorted().map(toData); // unreachable: rejected by breaksJSON
  const m = new Map<string, JD>();
  for (const [k, x] of objectEntries(v)) m.set(typeof k === "string" ? k : toRegoText(k), toData(x));
  return m;
}

function variables(obj: ObjectV): Map<string, JD> {
  if (breaksJSON(obj)) {
    try {
      parseJSON(goRegoText(obj));
    } catch (e) {
      if (e instanceof JSONSyntaxError) throw builtinErr(NAME, e.message);
      throw e;
    }
  }
  return toData(obj) as Map<string, JD>;
}

function renderTemplate([t, vars]: Value[]): Value {
  const text = strArg(NAME, t!, 1);
  const data = variables(objArg(NAME, vars!, 2));
  let out: string;
  try {
    out = renderGoTemplate(text, data);
  } catch (e) {
    if (e instanceof TemplateError) throw builtinErr(NAME, e.message);
    throw e;
  }
  return out.replaceAll("<no value>", "<undefined>");
}

export const builtins: BuiltinDef[] = [def(NAME, 2, renderTemplate)];
