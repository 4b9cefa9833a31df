// A Pike VM for RE2 patterns (lib/re2.ts's AST): linear-time, leftmost-first
// matching with RE2's submatch semantics. JavaScript's backtracking RegExp is
// much faster on ordinary patterns, but patterns with nested repetition such
// as (a+)+$ take exponential time there; those run here instead, so no
// pattern/input pair can stall the PDP.
import { foldOrbit, type ClassItem, type Node } from "./re2.js";

type Inst =
  | { op: "char"; pred: (c: number) => boolean; next: number }
  | { op: "split"; x: number; y: number }
  | { op: "jmp"; x: number }
  | { op: "save"; n: number; next: number }
  | { op: "assert"; kind: AssertKind; next: number }
  | { op: "match" };

type AssertKind = "bol" | "eol" | "bolm" | "eolm" | "wordb" | "nwordb";

export interface Program {
  insts: Inst[];
  start: number;
  ncap: number;
}

const propCache = new Map<string, RegExp>();
function propTest(prop: string, neg: boolean): (c: number) => boolean {
  const key = (neg ? "P" : "p") + prop;
  let re = propCache.get(key);
  if (!re) {
    re = new RegExp(`^\\${neg ? "P" : "p"}{${prop}}$`, "u");
    propCache.set(key, re);
  }
  const r = re;
  return (c) => r.test(String.fromCodePoint(c));
}

function classPred(items: ClassItem[], neg: boolean): (c: number) => boolean {
  const ranges: [number, number][] = [];
  const props: ((c: number) => boolean)[] = [];
  for (const it of items) {
    if ("r" in it) ranges.push(it.r);
    else props.push(propTest(it.prop, it.neg));
  }
  return (c) => {
    let hit = false;
    for (const [lo, hi] of ranges) {
      if (c >= lo && c <= hi) {
        hit = true;
        break;
      }
    }
    if (!hit) for (const p of props) if (p(c)) hit = true;
    return hit !== neg;
  };
}

export function compileProgram(ast: Node, ncap: number): Program {
  const insts: Inst[] = [];
  const emit = (i: Inst): number => insts.push(i) - 1;
  // Builds n so that it continues at `next`; returns its entry point.
  const build = (n: Node, next: number): number => {
    switch (n.k) {
      case "lit": {
        if (n.fold) {
          const set = new Set(foldOrbit(n.cp));
          return emit({ op: "char", pred: (c) => set.has(c), next });
        }
        const cp = n.cp;
        return emit({ op: "char", pred: (c) => c === cp, next });
      }
      case "class":
        return emit({ op: "char", pred: classPred(n.items, n.neg), next });
      case "any":
        return emit({ op: "char", pred: n.nl ? () => true : (c) => c !== 10, next });
      case "bol":
        return emit({ op: "assert", kind: n.multi ? "bolm" : "bol", next });
      case "eol":
        return emit({ op: "assert", kind: n.multi ? "eolm" : "eol", next });
      case "bot":
        return emit({ op: "assert", kind: "bol", next });
      case "eot":
        return emit({ op: "assert", kind: "eol", next });
      case "wordb":
        return emit({ op: "assert", kind: "wordb", next });
      case "nwordb":
        return emit({ op: "assert", kind: "nwordb", next });
      case "cap": {
        const close = emit({ op: "save", n: 2 * n.idx + 1, next });
        const body = build(n.sub, close);
        return emit({ op: "save", n: 2 * n.idx, next: body });
      }
      case "group":
        return build(n.sub, next);
      case "concat": {
        let entry = next;
        for (let i = n.subs.length - 1; i >= 0; i--) entry = build(n.subs[i]!, entry);
        return entry;
      }
      case "alt": {
        const entries = n.subs.map((s) => build(s, next));
        let entry = entries[entries.length - 1]!;
        for (let i = entries.length - 2; i >= 0; i--) entry = emit({ op: "split", x: entries[i]!, y: entry });
        return entry;
      }
      case "rep": {
        let entry = next;
        if (n.max === -1) {
          // loop: split(body → loop, next)
          const loop = emit({ op: "split", x: -1, y: -1 });
          const body = build(n.sub, loop);
          const l = insts[loop] as { op: "split"; x: number; y: number };
          if (n.greedy) [l.x, l.y] = [body, next];
          else [l.x, l.y] = [next, body];
          entry = loop;
        } else {
          for (let i = n.min; i < n.max; i++) {
            const body = build(n.sub, entry);
            // Skipping an optional copy skips the rest of them too.
            entry = n.greedy
              ? emit({ op: "split", x: body, y: next })
              : emit({ op: "split", x: next, y: body });
          }
        }
        for (let i = 0; i < n.min; i++) entry = build(n.sub, entry);
        return entry;
      }
      case "empty":
        return next;
    }
  };
  const match = emit({ op: "match" });
  const start = build(ast, match);
  return { insts, start, ncap };
}

const isWord = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;

interface Thread {
  pc: number;
  caps: number[];
}

export interface VMMatch {
  start: number;
  end: number;
  groups: (string | undefined)[];
}

/** Leftmost-first search from pos (positions are UTF-16 indexes, stepping by code point). */
export function vmExec(prog: Program, s: string, pos: number): VMMatch | null {
  const { insts } = prog;
  const nslots = 2 * (prog.ncap + 1);
  const mark = new Int32Array(insts.length).fill(-1);
  let gen = 0;
  let matched: number[] | null = null;

  const add = (list: Thread[], pc: number, caps: number[], at: number, prev: number, cur: number): void => {
    if (mark[pc] === gen) return;
    mark[pc] = gen;
    const inst = insts[pc]!;
    switch (inst.op) {
      case "jmp":
        add(list, inst.x, caps, at, prev, cur);
        return;
      case "split":
        add(list, inst.x, caps, at, prev, cur);
        add(list, inst.y, caps, at, prev, cur);
        return;
      case "save": {
        const c2 = caps.slice();
        c2[inst.n] = at;
        add(list, inst.next, c2, at, prev, cur);
        return;
      }
      case "assert": {
        let ok: boolean;
        switch (inst.kind) {
          case "bol":
            ok = at === 0;
            break;
          case "eol":
            ok = at === s.length;
            break;
          case "bolm":
            ok = at === 0 || prev === 10;
            break;
          case "eolm":
            ok = at === s.length || cur === 10;
            break;
          case "wordb":
            ok = isWord(prev) !== isWord(cur);
            break;
          case "nwordb":
            ok = isWord(prev) === isWord(cur);
            break;
        }
        if (ok) add(list, inst.next, caps, at, prev, cur);
        return;
      }
      default:
        list.push({ pc, caps });
    }
  };

  let clist: Thread[] = [];
  let at = pos;
  let prev = pos > 0 ? s.codePointAt(pos - 1)! : -1;
  if (pos > 0 && prev >= 0xdc00 && prev <= 0xdfff && pos > 1) prev = s.codePointAt(pos - 2)!;
  for (;;) {
    const cur = at < s.length ? s.codePointAt(at)! : -1;
    const width = cur > 0xffff ? 2 : 1;
    gen++;
    const seeded: Thread[] = [];
    // Re-mark the surviving threads' states so that a new thread cannot duplicate them.
    for (const t of clist) mark[t.pc] = gen;
    if (matched === null) {
      const init = new Array<number>(nslots).fill(-1);
      init[0] = at;
      add(seeded, prog.start, init, at, prev, cur);
    }
    const run = clist.concat(seeded);
    const nlist: Thread[] = [];
    gen++;
    for (const t of run) {
      const inst = insts[t.pc]!;
      if (inst.op === "match") {
        matched = t.caps.slice();
        matched[1] = at;
        break; // lower-priority threads are cut
      }
      if (inst.op === "char" && cur >= 0 && inst.pred(cur)) {
        const nextCur = at + width < s.length ? s.codePointAt(at + width)! : -1;
        add(nlist, inst.next, t.caps, at + width, cur, nextCur);
      }
    }
    clist = nlist;
    if (cur < 0 || (clist.length === 0 && matched !== null)) break;
    prev = cur;
    at += width;
  }
  if (!matched) return null;
  const groups: (string | undefined)[] = [];
  for (let g = 0; g <= prog.ncap; g++) {
    const a = matched[2 * g]!;
    const b = matched[2 * g + 1]!;
    groups.push(a >= 0 && b >= 0 ? s.slice(a, b) : undefined);
  }
  return { start: matched[0]!, end: matched[1]!, groups };
}
