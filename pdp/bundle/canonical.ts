// Structured bundle files (`data.json`, `data.yaml`, `.manifest`) as OPA reads and hashes them.
//
// OPA signs such a file over its *parsed* value, so that whitespace and key order do not matter: the
// digest input is compact JSON with object keys in byte order, strings escaped like Go's
// encoding/json without HTML escaping (U+2028/U+2029 escaped, invalid UTF-16 as U+FFFD), and numbers
// as written in a JSON file (json.Number keeps the literal) or, for YAML, as Go prints the parsed
// int/float. A file that is valid JSON is read as JSON whatever its name (OPA's util.Unmarshal);
// anything else as YAML 1.1 (sigs.k8s.io/yaml), with a UTF-8 BOM stripped first.
import { parse as parseYAML } from "yaml";
import { compareCodePoints } from "./paths.js";

export class CanonicalError extends Error {
  override name = "CanonicalError";
}

const BOM = "\ufeff";
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A string as Go's encoding/json writes it with SetEscapeHTML(false). */
export function goQuote(s: string): string {
  return JSON.stringify(s.replace(LONE_SURROGATE, "\ufffd")).replace(/[\u2028\u2029]/g, (c) =>
    c === "\u2028" ? "\\u2028" : "\\u2029",
  );
}

/** A float64 as Go's encoding/json writes it (the same shortest form as JavaScript's, but -0 stays). */
function goFloat(n: number): string {
  if (!Number.isFinite(n)) throw new CanonicalError(`unsupported value: ${n}`);
  return Object.is(n, -0) ? "-0" : String(n);
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

// ---- JSON with literal numbers ----

class JsonCanonicalizer {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  run(): string {
    this.ws();
    const v = this.value(0);
    this.ws();
    if (this.pos !== this.text.length) this.fail("invalid character after top-level value");
    return v;
  }

  private fail(msg: string): never {
    throw new CanonicalError(`${msg} at offset ${this.pos}`);
  }

  private ws(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos++;
      else break;
    }
  }

  private value(depth: number): string {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    const t = this.text;
    const c = t[this.pos];
    if (c === "{") return this.object(depth);
    if (c === "[") return this.array(depth);
    if (c === '"') return goQuote(this.string());
    for (const lit of ["true", "false", "null"]) {
      if (t.startsWith(lit, this.pos)) {
        this.pos += lit.length;
        return lit;
      }
    }
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    m.lastIndex = this.pos;
    const num = m.exec(t);
    if (!num || num[0] === "" || num[0] === "-") this.fail("invalid value");
    this.pos += num[0].length;
    return num[0]; // json.Number: the literal, unchanged
  }

  private string(): string {
    const t = this.text;
    const start = this.pos;
    let i = start + 1;
    for (;;) {
      if (i >= t.length) this.fail("unterminated string");
      const c = t.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) this.fail("control character in string");
      if (c === 0x5c) {
        const e = t[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(t.slice(i + 2, i + 6))) this.fail("invalid \\u escape");
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) this.fail("invalid escape");
        i += 2;
        continue;
      }
      i++;
    }
    this.pos = i + 1;
    return JSON.parse(t.slice(start, this.pos)) as string;
  }

  private object(depth: number): string {
    this.pos++;
    const members = new Map<string, string>();
    this.ws();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return "{}";
    }
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') this.fail("expected object key");
      const key = this.string();
      this.ws();
      if (this.text[this.pos] !== ":") this.fail("expected ':'");
      this.pos++;
      this.ws();
      members.delete(key); // a repeated key: the last one wins, as in Go
      members.set(key, this.value(depth + 1));
      this.ws();
      const c = this.text[this.pos++];
      if (c === "}") break;
      if (c !== ",") this.fail("expected ',' or '}'");
    }
    const keys = [...members.keys()].sort(compareCodePoints);
    return `{${keys.map((k) => `${goQuote(k)}:${members.get(k)}`).join(",")}}`;
  }

  private array(depth: number): string {
    this.pos++;
    const items: string[] = [];
    this.ws();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return "[]";
    }
    for (;;) {
      this.ws();
      items.push(this.value(depth + 1));
      this.ws();
      const c = this.text[this.pos++];
      if (c === "]") break;
      if (c !== ",") this.fail("expected ',' or ']'");
    }
    return `[${items.join(",")}]`;
  }
}

// ---- YAML (1.1, as sigs.k8s.io/yaml reads it) ----

function canonicalValue(v: unknown, depth: number, maxDepth: number): string {
  if (depth > maxDepth) throw new CanonicalError(`nesting deeper than ${maxDepth}`);
  if (v === null || v === undefined) return "null";
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "bigint":
      return v >= INT64_MIN && v <= UINT64_MAX ? v.toString() : goFloat(Number(v));
    case "number":
      return goFloat(v);
    case "string":
      return goQuote(v);
    case "object": {
      if (Array.isArray(v)) return `[${v.map((x) => canonicalValue(x, depth + 1, maxDepth)).join(",")}]`;
      if (v instanceof Map || v instanceof Set || ArrayBuffer.isView(v) || v instanceof Date) {
        throw new CanonicalError("unsupported YAML type (binary, set, omap, timestamp)");
      }
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).sort(compareCodePoints);
      return `{${keys.map((k) => `${goQuote(k)}:${canonicalValue(o[k], depth + 1, maxDepth)}`).join(",")}}`;
    }
    default:
      throw new CanonicalError(`unsupported ${typeof v} value`);
  }
}

function yamlValue(text: string, intAsBigInt: boolean): unknown {
  try {
    // A low alias budget defuses "billion laughs" documents.
    return parseYAML(text, {
      version: "1.1",
      intAsBigInt,
      maxAliasCount: 100,
      prettyErrors: false,
      // Timestamps stay strings, as sigs.k8s.io/yaml leaves them; JSON has no date type.
      customTags: (tags) =>
        tags.filter((t) => typeof t === "string" || t.tag !== "tag:yaml.org,2002:timestamp"),
    });
  } catch (e) {
    throw new CanonicalError((e as Error).message.split("\n")[0]!);
  }
}

function isJSON(text: string, maxDepth: number): string | undefined {
  try {
    return new JsonCanonicalizer(text, maxDepth).run();
  } catch (e) {
    if (e instanceof CanonicalError && /nesting deeper/.test(e.message)) throw e;
    return undefined;
  }
}

/** The digest input OPA uses for a structured file. Throws CanonicalError when it does not parse. */
export function canonicalText(bytes: Buffer, maxDepth: number): string {
  let text = bytes.toString("utf8");
  if (text.startsWith(BOM)) text = text.slice(1);
  const json = isJSON(text, maxDepth);
  if (json !== undefined) return json;
  const v = yamlValue(text, true);
  if (v === undefined) throw new CanonicalError("empty document");
  return canonicalValue(v, 0, maxDepth);
}

/** Nesting depth of JSON text, without recursion (strings skipped). */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/**
 * The value of a data file as OPA loads it: `data.json` strictly as JSON; `data.yaml`/`data.yml` as
 * JSON when it is JSON, else YAML 1.1. Throws CanonicalError.
 */
export function parseDataFile(bytes: Buffer, yaml: boolean, maxDepth: number): unknown {
  let text = bytes.toString("utf8");
  if (yaml && text.startsWith(BOM)) text = text.slice(1);
  if (jsonDepth(text) > maxDepth) throw new CanonicalError(`nesting deeper than ${maxDepth}`);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    if (!yaml) throw new CanonicalError((e as Error).message);
  }
  const v = yamlValue(text, false);
  // Anything but JSON's types (a !!binary, !!set or !!omap) is refused, as the hash would refuse it.
  canonicalValue(v, 0, maxDepth);
  return v;
}
