// YAML as OPA reads and writes it: through sigs.k8s.io/yaml, i.e. go-yaml v2
// (YAML 1.1 scalars: yes/no/on/off are booleans, 0777 is octal) converted
// to and from JSON. Writing is a small emitter reproducing go-yaml v2's block
// style for JSON-shaped data (sorted keys, unindented sequences under keys,
// quoting only where a plain scalar would be misread); reading uses the
// `yaml` package configured for YAML 1.1.
import YAML from "yaml";
import { Buffer } from "node:buffer";
import { isArray, isBigNum, isSet, makeObject, objectEntries, type Value } from "../../value.js";
import { isInteger, numFromBigInt, numFromFloat, toBigInt, toFloat, type Num } from "../../number.js";
import { intDigits } from "./args.js";
import { formatFloat } from "./gofmt.js";
import { goJSON } from "./gojson.js";

// ---- writing ----

function isLetter(c: string): boolean {
  return /\p{L}/u.test(c);
}
function isDigit(c: string): boolean {
  return c >= "0" && c <= "9";
}

/** go-yaml v2's keyList.Less for string keys: letters before digits, digit runs numerically. */
export function yamlKeyLess(a: string, b: string): boolean {
  const ar = Array.from(a);
  const br = Array.from(b);
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) continue;
    const al = isLetter(ar[i]!);
    const bl = isLetter(br[i]!);
    if (al && bl) return ar[i]!.codePointAt(0)! < br[i]!.codePointAt(0)!;
    if (al || bl) return bl;
    let an = 0;
    let bn = 0;
    if (ar[i] === "0" || br[i] === "0") {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]!); j--) {
        if (ar[j] !== "0") {
          an = 1;
          bn = 1;
          break;
        }
      }
    }
    let ai = i;
    let bi = i;
    for (; ai < ar.length && isDigit(ar[ai]!); ai++) an = an * 10 + (ar[ai]!.charCodeAt(0) - 48);
    for (; bi < br.length && isDigit(br[bi]!); bi++) bn = bn * 10 + (br[bi]!.charCodeAt(0) - 48);
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return ar[i]!.codePointAt(0)! < br[i]!.codePointAt(0)!;
  }
  return ar.length < br.length;
}

// Plain scalars go-yaml v2 would resolve to something other than a string.
const NON_STRING = [
  /^(?:~|null|Null|NULL)?$/,
  /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  /^[-+]?(?:0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/,
  /^[-+]?\.(?:inf|Inf|INF)$/,
  /^\.(?:nan|NaN|NAN)$/,
  /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/,
  /^\d{4}-\d\d?-\d\d?(?:(?:[Tt]|[ \t]+)\d\d?:\d\d:\d\d(?:\.\d*)?(?:[ \t]*(?:Z|[-+]\d\d?(?::\d\d)?))?)?$/,
  /^<<$/,
];

/** libyaml's printable set; anything else forces double quotes. */
function isYamlPrintable(cp: number): boolean {
  return (
    cp === 0x0a ||
    (cp >= 0x20 && cp <= 0x7e) ||
    cp === 0x85 ||
    (cp >= 0xa0 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

interface Analysis {
  plain: boolean;
  single: boolean;
  block: boolean;
}

/** A condensed yaml_emitter_analyze_scalar for block context. */
function analyze(s: string): Analysis {
  if (s === "") return { plain: false, single: true, block: false };
  let special = false;
  let blockIndicators = false;
  let lineBreaks = false;
  let spaceBreak = false;
  let breakSpace = false;
  if (s.startsWith("---") || s.startsWith("...")) blockIndicators = true;
  const chars = Array.from(s);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    const cp = c.codePointAt(0)!;
    const next = chars[i + 1];
    const followedBySpace = next === undefined || next === " " || next === "\t" || next === "\n";
    const precededBySpace = i === 0 || chars[i - 1] === " " || chars[i - 1] === "\t" || chars[i - 1] === "\n";
    if (i === 0) {
      if ("#,[]{}&*!|>'\"%@`".includes(c)) blockIndicators = true;
      else if ((c === "?" || c === ":" || c === "-") && followedBySpace) blockIndicators = true;
    } else if (c === ":" && followedBySpace) blockIndicators = true;
    else if (c === "#" && precededBySpace) blockIndicators = true;
    if (!isYamlPrintable(cp)) special = true;
    if (c === "\n") {
      lineBreaks = true;
      if (i > 0 && chars[i - 1] === " ") spaceBreak = true;
      if (next === " ") breakSpace = true;
    }
  }
  const leadingSpace = chars[0] === " ";
  const trailingSpace = chars[chars.length - 1] === " ";
  const leadingBreak = chars[0] === "\n";
  const trailingBreak = chars[chars.length - 1] === "\n";
  let plain = !(
    leadingSpace ||
    leadingBreak ||
    trailingSpace ||
    trailingBreak ||
    lineBreaks ||
    blockIndicators
  );
  let single = true;
  let block = !trailingSpace;
  if (breakSpace) {
    plain = false;
    single = false;
  }
  if (spaceBreak || special) {
    plain = false;
    single = false;
    block = false;
  }
  return { plain, single, block };
}

function doubleQuoted(s: string): string {
  let out = '"';
  for (const c of s) {
    const cp = c.codePointAt(0)!;
    switch (cp) {
      case 0x00:
        out += "\\0";
        continue;
      case 0x07:
        out += "\\a";
        continue;
      case 0x08:
        out += "\\b";
        continue;
      case 0x09:
        out += "\\t";
        continue;
      case 0x0a:
        out += "\\n";
        continue;
      case 0x0b:
        out += "\\v";
        continue;
      case 0x0c:
        out += "\\f";
        continue;
      case 0x0d:
        out += "\\r";
        continue;
      case 0x1b:
        out += "\\e";
        continue;
      case 0x22:
        out += '\\"';
        continue;
      case 0x5c:
        out += "\\\\";
        continue;
      case 0x85:
        out += "\\N";
        continue;
      case 0xa0:
        out += "\\_";
        continue;
      case 0x2028:
        out += "\\L";
        continue;
      case 0x2029:
        out += "\\P";
        continue;
    }
    if (isYamlPrintable(cp) && cp !== 0xfeff) out += c;
    else if (cp <= 0xff) out += "\\x" + cp.toString(16).toUpperCase().padStart(2, "0");
    else if (cp <= 0xffff) out += "\\u" + cp.toString(16).toUpperCase().padStart(4, "0");
    else out += "\\U" + cp.toString(16).toUpperCase().padStart(8, "0");
  }
  return out + '"';
}

function literal(s: string, indent: string): string {
  let chomp = "";
  if (!s.endsWith("\n")) chomp = "-";
  else if (s.endsWith("\n\n")) chomp = "+";
  const indicator = s.startsWith(" ") || s.startsWith("\n") ? "2" : "";
  const body = chomp === "-" ? s : s.slice(0, -1);
  const lines = body.split("\n").map((l) => (l === "" ? "" : indent + l));
  return "|" + indicator + chomp + "\n" + lines.join("\n");
}

/**
 * A string scalar the way go-yaml v2 picks its style: multi-line strings as
 * literal blocks, strings that would read back as another type
 * double-quoted, the rest plain when libyaml allows it, else single-quoted,
 * else double-quoted. `indent` is where block content goes.
 */
function stringScalar(s: string, indent: string, isKey: boolean): string {
  const a = analyze(s);
  if (s.includes("\n") && !isKey && a.block) return literal(s, indent);
  const other = NON_STRING.some((re) => re.test(s));
  if (!other && a.plain) return s;
  if (!other && a.single && !s.includes("\n")) return "'" + s.replaceAll("'", "''") + "'";
  return doubleQuoted(s);
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

function numberScalar(v: Value): string {
  // JSONToYAML reads the JSON back with go-yaml: int64/uint64 stay integers,
  // everything else is a float64 printed with %g.
  const n = v as Num;
  if (isInteger(n) && intDigits(n) <= 20) {
    const b = toBigInt(n)!;
    if (b >= INT64_MIN && b <= UINT64_MAX) return b.toString();
  }
  const f = toFloat(n);
  if (!Number.isFinite(f)) return f > 0 ? ".inf" : "-.inf";
  return formatFloat(f, "g", -1);
}

function scalar(v: Value, indent: string): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "string") return stringScalar(v, indent, false);
  return numberScalar(v);
}

function keyString(k: Value): string {
  return typeof k === "string" ? k : goJSON(k);
}

function mapEntries(v: Value): [string, Value][] {
  const m = new Map<string, Value>();
  for (const [k, x] of objectEntries(v as Parameters<typeof objectEntries>[0])) m.set(keyString(k), x);
  return [...m.entries()].sort((a, b) => (a[0] === b[0] ? 0 : yamlKeyLess(a[0], b[0]) ? -1 : 1));
}

function isCollection(v: Value): boolean {
  return v !== null && typeof v === "object" && !isBigNum(v);
}

function itemsOf(v: Value): Value[] | null {
  if (isArray(v)) return v;
  if (isSet(v)) return v.sorted();
  return null;
}

/** Emits a block node whose first line continues the current line. */
function emitNode(v: Value, indent: string): string {
  if (!isCollection(v)) return scalar(v, indent);
  const items = itemsOf(v);
  if (items) {
    if (items.length === 0) return "[]";
    return items.map((x, i) => (i ? indent : "") + "- " + emitNode(x, indent + "  ")).join("\n");
  }
  const entries = mapEntries(v);
  if (entries.length === 0) return "{}";
  return entries
    .map(([k, x], i) => {
      const head = (i ? indent : "") + stringScalar(k, indent + "  ", true) + ":";
      if (isCollection(x)) {
        const xs = itemsOf(x);
        if (xs && xs.length > 0) return head + "\n" + indent + emitNode(x, indent);
        if (!xs && mapEntries(x).length > 0) return head + "\n" + indent + "  " + emitNode(x, indent + "  ");
      }
      return head + " " + emitNode(x, indent + "  ");
    })
    .join("\n");
}

/** yaml.marshal */
export function toYAML(v: Value): string {
  // A top-level block scalar is indented too (libyaml's increase_indent).
  return emitNode(v, isCollection(v) ? "" : "  ") + "\n";
}

// ---- reading ----

export class YAMLError extends Error {}

// YAML 1.1 as go-yaml v2 has it: no timestamps (kept as strings when decoding
// into interface{}) and no sexagesimal numbers.
const PARSE_OPTIONS = {
  version: "1.1" as const,
  uniqueKeys: false,
  intAsBigInt: true,
  merge: true,
  customTags: (tags: YAML.Tags) =>
    tags.filter((t) => {
      const tag = (t as { tag?: string; format?: string }).tag;
      const format = (t as { format?: string }).format;
      return tag !== "tag:yaml.org,2002:timestamp" && format !== "TIME";
    }),
};

function parseDocs(text: string): YAML.Document.Parsed[] {
  const docs = YAML.parseAllDocuments(text, PARSE_OPTIONS);
  const list = Array.isArray(docs) ? docs : [docs];
  for (const d of list) {
    if (d.errors.length > 0) throw new YAMLError(d.errors[0]!.message.split("\n")[0]!);
  }
  return list as YAML.Document.Parsed[];
}

export function isValidYAML(text: string): boolean {
  try {
    parseDocs(text);
    return true;
  } catch (e) {
    if (e instanceof YAMLError) return false;
    throw e;
  }
}

function jsonKey(k: unknown): string {
  if (typeof k === "string") return k;
  if (typeof k === "bigint") return k.toString();
  if (typeof k === "number") return formatFloat(k, "g", -1);
  if (typeof k === "boolean" || k === null || k === undefined) return String(k ?? "null");
  throw new YAMLError(`unsupported map key type ${typeof k}`);
}

function toValue(x: unknown): Value {
  if (x === null || x === undefined) return null;
  switch (typeof x) {
    case "string":
    case "boolean":
      return x;
    case "bigint":
      return numFromBigInt(x);
    case "number": {
      const n = numFromFloat(x);
      if (n === null) throw new YAMLError(`json: unsupported value: ${x}`);
      return n;
    }
  }
  if (x instanceof Uint8Array) return Buffer.from(x).toString("utf8");
  if (Array.isArray(x)) return x.map(toValue);
  if (x instanceof Map) {
    const entries: [Value, Value][] = [];
    for (const [k, v] of x) entries.push([jsonKey(k), toValue(v)]);
    return makeObject(entries);
  }
  if (x instanceof Set) return [...x].map(toValue);
  throw new YAMLError(`unsupported value of type ${typeof x}`);
}

/** yaml.unmarshal: the first document as JSON data. */
export function fromYAML(text: string): Value {
  const docs = parseDocs(text);
  if (docs.length === 0) return null;
  return toValue(docs[0]!.toJS({ mapAsMap: true, maxAliasCount: 1000 }));
}
