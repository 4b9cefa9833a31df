// regex.globs_match: whether two "globs" in yashtewari/glob-intersection
// syntax can match a common non-empty string. The syntax: `.` any character,
// `[abc]` / `[a-z]` character sets, `\` escapes, and a `*` or `+` flag after
// any of those. The library decides this heuristically; we decide it exactly
// by searching the product of the two automata (same answers on its own test
// suite, and correct where its heuristic is not).

export class GlobIntersectError extends Error {}

type CharSet = { any: true } | { any: false; ranges: [number, number][] };

interface Token {
  set: CharSet;
  star: boolean;
}

function invalid(pos: number, msg: string): GlobIntersectError {
  return new GlobIntersectError(`pos:${pos}:${msg}: the input provided is invalid`);
}

function tokenize(input: string): Token[] {
  const rs = Array.from(input, (c) => c.codePointAt(0)!);
  const out: { set: CharSet; flag: "" | "+" | "*" }[] = [];
  let i = 0;
  const nextRune = (): { r: number; escaped: boolean } => {
    if (rs[i] === 0x5c) {
      if (i === rs.length - 1) throw invalid(i, "input ends with a \\ (escape) character");
      i += 2;
      return { r: rs[i - 1]!, escaped: true };
    }
    return { r: rs[i++]!, escaped: false };
  };
  while (i < rs.length) {
    const { r, escaped } = nextRune();
    let set: CharSet;
    if (!escaped && r === 0x2e) set = { any: true };
    else if (!escaped && r === 0x5d) throw invalid(i, "set-close ']' with no preceding '['");
    else if (!escaped && (r === 0x2b || r === 0x2a)) {
      throw invalid(i, `flag '${String.fromCodePoint(r)}' must be preceded by a non-flag`);
    } else if (!escaped && r === 0x5b) {
      const ranges: [number, number][] = [];
      let complete = false;
      let prev = -1;
      while (i < rs.length) {
        const c = nextRune();
        if (!c.escaped && c.r === 0x5d) {
          complete = true;
          break;
        }
        if (!c.escaped && c.r === 0x2d) {
          if (prev < 0) throw invalid(i, "range character '-' must be preceded by a Unicode character");
          if (i >= rs.length) throw invalid(i, "range character '-' must be followed by a Unicode character");
          const hi = nextRune();
          if (!hi.escaped && (hi.r === 0x5d || hi.r === 0x2d)) {
            throw invalid(i, "range character '-' cannot be followed by a special symbol");
          }
          if (hi.r < prev) {
            throw invalid(
              i,
              `range is out of order: '${String.fromCodePoint(hi.r)}' comes before '${String.fromCodePoint(prev)}' in Unicode`,
            );
          }
          ranges.push([prev, hi.r]);
          prev = -1;
          continue;
        }
        ranges.push([c.r, c.r]);
        prev = c.r;
      }
      if (!complete) throw invalid(i, "found [ without matching ]");
      set = { any: false, ranges };
    } else {
      set = { any: false, ranges: [[r, r]] };
    }
    let flag: "" | "+" | "*" = "";
    if (i < rs.length && (rs[i] === 0x2b || rs[i] === 0x2a)) flag = rs[i++] === 0x2b ? "+" : "*";
    out.push({ set, flag });
  }
  // X+ is X X*.
  const tokens: Token[] = [];
  for (const t of out) {
    if (t.flag === "+") tokens.push({ set: t.set, star: false });
    tokens.push({ set: t.set, star: t.flag !== "" });
  }
  return tokens;
}

function setsMeet(a: CharSet, b: CharSet): boolean {
  if (a.any) return b.any || b.ranges.length > 0;
  if (b.any) return a.ranges.length > 0;
  for (const [lo, hi] of a.ranges) for (const [l2, h2] of b.ranges) if (lo <= h2 && l2 <= hi) return true;
  return false;
}

export function globsIntersect(lhs: string, rhs: string): boolean {
  const g1 = tokenize(lhs);
  const g2 = tokenize(rhs);
  if (g1.length === 0 && g2.length === 0) return true;
  // States (i, j, consumedSomething); star tokens may be skipped.
  const seen = new Set<number>();
  const stride = g2.length + 1;
  const queue: [number, number, number][] = [[0, 0, 0]];
  while (queue.length > 0) {
    const [i, j, ne] = queue.pop()!;
    const key = ((i * stride + j) << 1) | ne;
    if (seen.has(key)) continue;
    seen.add(key);
    if (i === g1.length && j === g2.length && ne) return true;
    if (i < g1.length && g1[i]!.star) queue.push([i + 1, j, ne]);
    if (j < g2.length && g2[j]!.star) queue.push([i, j + 1, ne]);
    if (i < g1.length && j < g2.length && setsMeet(g1[i]!.set, g2[j]!.set)) {
      const ni = g1[i]!.star ? i : i + 1;
      const nj = g2[j]!.star ? j : j + 1;
      queue.push([ni, nj, 1]);
    }
  }
  return false;
}
