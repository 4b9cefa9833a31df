// JSON.parse keeps the last of duplicate keys while other parsers keep the first; a token whose `sub`
// or `aud` reads differently to two components is an identity confusion. So duplicate keys (compared
// after unescaping) are rejected before JSON.parse sees the text.

export class StrictJsonError extends Error {}

export function parseStrictJson(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new StrictJsonError(`${what} at ${i}`);
  };
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r"))
      i++;
  };
  const string = (): string => {
    const start = i;
    i++; // opening quote
    let hasEscape = false;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\") {
        hasEscape = true;
        i += 2;
      } else i++;
    }
    if (i >= text.length) fail("unterminated string");
    i++;
    const raw = text.slice(start, i);
    return hasEscape ? (JSON.parse(raw) as string) : raw.slice(1, -1);
  };
  const value = (depth: number): void => {
    if (depth > 64) fail("nesting too deep");
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const keys = new Set<string>();
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected key");
        const key = string();
        if (keys.has(key)) fail(`duplicate key ${JSON.stringify(key)}`);
        keys.add(key);
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return;
        }
        fail("expected ',' or '}'");
      }
    } else if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return;
        }
        fail("expected ',' or ']'");
      }
    } else if (c === '"') {
      string();
    } else {
      // Numbers and literals: skip; JSON.parse below validates their syntax.
      const start = i;
      while (i < text.length && /[-+.0-9a-zA-Z]/.test(text[i])) i++;
      if (i === start) fail("unexpected character");
    }
  };
  value(0);
  ws();
  if (i !== text.length) fail("trailing data");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new StrictJsonError((e as Error).message);
  }
}
