// parseStrictJson against an independent oracle (a regex tokenizer with a stack of key sets): the same
// verdict on hand-written cases and on thousands of generated documents with duplicates (plain and
// escaped), odd whitespace and truncations; and when it accepts, exactly what JSON.parse returns.
import { describe, expect, it } from "vitest";
import { parseStrictJson, StrictJsonError } from "../../../gateway/authn/strict_json.js";

/** True when the text is JSON without a duplicate key in any object (keys compared unescaped). */
function oracle(text: string): boolean {
  try {
    JSON.parse(text);
  } catch {
    return false;
  }
  const re = /\s*(?:("(?:[^"\\]|\\.)*")|([{}[\]:,])|([^\s{}[\]:,"]+))/y;
  const stack: { keys: Set<string>; wantKey: boolean }[] = [];
  let depth = 0;
  for (let m = re.exec(text); m !== null && m[0] !== ""; m = re.exec(text)) {
    const top = stack[stack.length - 1];
    if (m[1] !== undefined) {
      if (top?.keys && top.wantKey) {
        const key = JSON.parse(m[1]) as string;
        if (top.keys.has(key)) return false;
        top.keys.add(key);
        top.wantKey = false;
      }
    } else if (m[2] === "{" || m[2] === "[") {
      if (++depth > 65) return false;
      stack.push(m[2] === "{" ? { keys: new Set(), wantKey: true } : { keys: undefined!, wantKey: false });
    } else if (m[2] === "}" || m[2] === "]") {
      depth--;
      stack.pop();
    } else if (m[2] === "," && top?.keys) {
      top.wantKey = true;
    }
  }
  return true;
}

function verdict(text: string): boolean {
  try {
    const v = parseStrictJson(text);
    expect(v).toEqual(JSON.parse(text));
    return true;
  } catch (e) {
    expect(e).toBeInstanceOf(StrictJsonError);
    return false;
  }
}

const CASES = [
  '{"a":1}',
  ' { "a" : [ 1 , 2 , { "b" : null } ] , "c" : "x" } ',
  '{"a":1,"a":2}',
  '{"a":1,"\\u0061":2}',
  '{"sub":"x","aud":["p"],"act":{"sub":"y","sub":"z"}}',
  '{"a":{"b":1},"c":{"b":2}}',
  '{"k\\"q":1,"k\\"q":2}',
  '[{"a":1},{"a":1}]',
  '{"a":"\\\\","b":"\\""}',
  '{"a":1',
  '{"a":1}}',
  '{"a" 1}',
  '{"a":1,}',
  "{a:1}",
  '"unterminated',
  '{"a":"x\\',
  "",
  "   ",
  "true",
  "-1.5e+3",
  '{"a":tru}',
  "[".repeat(70) + "]".repeat(70),
  "[".repeat(60) + "]".repeat(60),
  '{"é":1,"\\u00e9":2}',
  '{"😀":1,"\\ud83d\\ude00":2}',
];

describe("parseStrictJson", () => {
  it("agrees with the oracle on hand-written cases", () => {
    for (const c of CASES) expect(verdict(c), c).toBe(oracle(c));
  });

  it("agrees on generated documents with duplicates, escapes, whitespace and truncations", () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
    const keys = ["sub", "aud", "a", "b", "é", 'k"q', "x\\y"];
    const esc = (k: string) =>
      rnd(3) === 0
        ? `"${[...k].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")}"`
        : JSON.stringify(k);
    const sp = () => [" ", "", "\n", "\t "][rnd(4)]!;
    const gen = (depth: number): string => {
      const r = rnd(depth > 3 ? 3 : 6);
      if (r === 0) return String(rnd(1000) - 500);
      if (r === 1) return JSON.stringify(keys[rnd(keys.length)]);
      if (r === 2) return ["true", "false", "null"][rnd(3)]!;
      if (r === 3) return `[${Array.from({ length: rnd(4) }, () => sp() + gen(depth + 1) + sp()).join(",")}]`;
      const n = rnd(5);
      const members = Array.from(
        { length: n },
        () => `${sp()}${esc(keys[rnd(keys.length)]!)}${sp()}:${sp()}${gen(depth + 1)}`,
      );
      return `{${members.join(",")}${sp()}}`;
    };
    let accepted = 0;
    let refused = 0;
    for (let n = 0; n < 3000; n++) {
      const doc = gen(0);
      const text = rnd(5) === 0 ? doc.slice(0, rnd(doc.length + 1)) : doc;
      const v = verdict(text);
      expect(v, text).toBe(oracle(text));
      if (v) accepted++;
      else refused++;
    }
    // Both verdicts were exercised in quantity.
    expect(accepted).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(500);
  });
});
