// JSON.parse keeps the last of duplicate keys while other parsers keep the first; a token whose `sub`
// or `aud` reads differently to two components is an identity confusion. So duplicate keys (compared
// after unescaping) are rejected before JSON.parse sees the text. The scan reads character codes, not
// one-character strings: it runs over the header and payload of every fresh token.

export class StrictJsonError extends Error {}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MAX_DEPTH = 64;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** The characters a number or literal (`true`, `null`, …) can hold; JSON.parse checks their syntax. */
function isScalar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    c === 0x2d ||
    c === 0x2b ||
    c === 0x2e
  );
}

class Scanner {
  i = 0;
  constructor(private readonly text: string) {}

  fail(what: string): never {
    throw new StrictJsonError(`${what} at ${this.i}`);
  }

  ws(): void {
    const t = this.text;
    while (this.i < t.length && isSpace(t.charCodeAt(this.i))) this.i++;
  }

  /** At an opening quote: skips the string and returns its value (unescaped when it has escapes). */
  string(): string {
    const t = this.text;
    const start = this.i;
    let i = start + 1;
    let escaped = false;
    for (;;) {
      if (i >= t.length) {
        this.i = i;
        this.fail("unterminated string");
      }
      const c = t.charCodeAt(i);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        i += 2;
      } else i++;
    }
    this.i = i + 1;
    return escaped ? (JSON.parse(t.slice(start, i + 1)) as string) : t.slice(start + 1, i);
  }

  value(depth: number): void {
    if (depth > MAX_DEPTH) this.fail("nesting too deep");
    this.ws();
    const t = this.text;
    const c = t.charCodeAt(this.i);
    if (c === 0x7b /* { */) this.object(depth);
    else if (c === 0x5b /* [ */) this.array(depth);
    else if (c === QUOTE) this.string();
    else {
      const start = this.i;
      while (this.i < t.length && isScalar(t.charCodeAt(this.i))) this.i++;
      if (this.i === start) this.fail("unexpected character");
    }
  }

  private object(depth: number): void {
    const t = this.text;
    this.i++;
    this.ws();
    if (t.charCodeAt(this.i) === 0x7d /* } */) {
      this.i++;
      return;
    }
    // Token objects have a handful of keys: a list is cheaper than a Set until it grows.
    const keys: string[] = [];
    let set: Set<string> | undefined;
    for (;;) {
      this.ws();
      if (t.charCodeAt(this.i) !== QUOTE) this.fail("expected key");
      const key = this.string();
      if (set !== undefined ? set.has(key) : keys.includes(key))
        this.fail(`duplicate key ${JSON.stringify(key)}`);
      if (set !== undefined) set.add(key);
      else if (keys.push(key) > 16) set = new Set(keys);
      this.ws();
      if (t.charCodeAt(this.i) !== 0x3a /* : */) this.fail("expected ':'");
      this.i++;
      this.value(depth + 1);
      this.ws();
      const c = t.charCodeAt(this.i);
      if (c === 0x2c /* , */) {
        this.i++;
        continue;
      }
      if (c === 0x7d /* } */) {
        this.i++;
        return;
      }
      this.fail("expected ',' or '}'");
    }
  }

  private array(depth: number): void {
    const t = this.text;
    this.i++;
    this.ws();
    if (t.charCodeAt(this.i) === 0x5d /* ] */) {
      this.i++;
      return;
    }
    for (;;) {
      this.value(depth + 1);
      this.ws();
      const c = t.charCodeAt(this.i);
      if (c === 0x2c /* , */) {
        this.i++;
        continue;
      }
      if (c === 0x5d /* ] */) {
        this.i++;
        return;
      }
      this.fail("expected ',' or ']'");
    }
  }
}

export function parseStrictJson(text: string): unknown {
  const s = new Scanner(text);
  s.value(0);
  s.ws();
  if (s.i !== text.length) s.fail("trailing data");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new StrictJsonError((e as Error).message);
  }
}
