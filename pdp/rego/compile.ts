// Turns a set of modules plus base data into a CompiledPolicy: parses, builds
// the rule tree, resolves and compiles every rule once. Queries are compiled
// once per query text and then evaluated many times.
import type * as ast from "./ast.js";
import {
  compileQueryBody,
  compileRuleChain,
  pathKey,
  type GlobalEnv,
  type ImportTarget,
  type ModuleEnv,
} from "./compiler.js";
import { RegoError, RegoErrors } from "./errors.js";
import { Evaluator, runQuery, type EvalOptions, type PreparedQuery, type ResultRow } from "./eval.js";
import { TreeNode, type CBody, type CTerm, type RuleDef } from "./ir.js";
import { parseModule, parseQuery } from "./parser.js";
import { analyzeInputPaths, type InputPaths } from "./input_paths.js";
import { checkRecursion, RuleGraph } from "./recursion.js";
import { normalizeBody, normalizeRule, normalizeTerm } from "./normalize.js";
import { fromJS, type Value } from "./value.js";

const QUERY_LOC = { file: "query", row: 1, col: 1 };

export interface ModuleSource {
  file: string;
  source: string;
}

export interface CompileOptions {
  modules: ModuleSource[];
  /** Base documents (`data`), JSON-like. */
  data?: unknown;
  /** Already parsed modules (e.g. from a bundle), compiled along with `modules`. */
  parsed?: ast.Module[];
}

interface CompiledQuery {
  body: CBody;
  nslots: number;
  vars: [string, number][];
}

export class CompiledPolicy {
  private readonly queries = new Map<string, CompiledQuery>();
  /** evalPath's terms, kept so their static resolution is computed once. */
  private readonly pathTerms = new Map<string, CTerm>();
  private readonly queryEnv: ModuleEnv;
  /** inputPaths per entrypoint (a value of undefined: the whole input). */
  private readonly inputPathsMemo = new Map<string, InputPaths | undefined>();
  private ruleGraph: RuleGraph | undefined;

  constructor(
    readonly modules: ast.Module[],
    private readonly root: TreeNode,
    readonly data: Value,
    global: GlobalEnv,
  ) {
    this.queryEnv = { pkg: [], localRules: new Set(), imports: new Map(), global };
  }

  /** Compiles a query (cached by its text). Throws RegoErrors on parse/compile errors. */
  prepare(query: string): PreparedQuery {
    const q = this.compileQuery(query);
    return {
      eval: (opts: EvalOptions = {}) =>
        runQuery(new Evaluator(this.root, this.data, opts), q.body, q.nslots, q.vars),
    };
  }

  query(query: string, opts: EvalOptions = {}): ResultRow[] {
    return this.prepare(query).eval(opts);
  }

  /** The value of `data.<path>`, or undefined. The PDP's fast path: no query parsing. */
  evalPath(path: readonly string[], opts: EvalOptions = {}): Value | undefined {
    const key = path.join("\u0000");
    let term = this.pathTerms.get(key);
    if (!term) {
      term =
        path.length === 0
          ? { t: "data" }
          : {
              t: "ref",
              head: { t: "data" },
              path: path.map((p) => ({ t: "val", v: p })),
              loc: QUERY_LOC,
              res: undefined,
            };
      term = normalizeTerm(term);
      if (this.pathTerms.size > 1000) this.pathTerms.clear();
      this.pathTerms.set(key, term);
    }
    const ev = new Evaluator(this.root, this.data, opts);
    try {
      return ev.valueOf(term);
    } catch (e) {
      if (e instanceof RangeError)
        throw new RegoError("eval_cancel_error", "evaluation exceeded the maximum stack depth");
      throw e;
    }
  }

  /**
   * The input paths an evaluation of `data.<path>` (evalPath) can read — sorted, none below another,
   * frozen — or undefined when it may read the whole input. The decision cache keys on the values at
   * these paths (pdp/cache/key.ts); see input_paths.ts for what counts as a read. Memoised per path.
   */
  inputPaths(path: readonly string[]): InputPaths | undefined {
    const key = path.join("\u0000");
    if (this.inputPathsMemo.has(key)) return this.inputPathsMemo.get(key);
    this.ruleGraph ??= new RuleGraph(this.root);
    const paths = analyzeInputPaths(this.root, path, this.ruleGraph);
    if (this.inputPathsMemo.size > 1000) this.inputPathsMemo.clear();
    this.inputPathsMemo.set(key, paths);
    return paths;
  }

  /**
   * The value of one definition of a complete rule (its `index`-th in module
   * order), ignoring the others — what `opa test` runs for each `test_` body.
   */
  evalRuleDefinition(path: readonly string[], index: number, opts: EvalOptions = {}): Value | undefined {
    let node: TreeNode | undefined = this.root;
    for (const p of path) node = node?.children.get(p);
    const def = node?.complete[index];
    if (!def) return undefined;
    return new Evaluator(this.root, this.data, opts).evalDefinition(def);
  }

  /** How many complete definitions the rule at `path` has. */
  ruleDefinitionCount(path: readonly string[]): number {
    let node: TreeNode | undefined = this.root;
    for (const p of path) node = node?.children.get(p);
    return node?.complete.length ?? 0;
  }

  private compileQuery(query: string): CompiledQuery {
    const hit = this.queries.get(query);
    if (hit) return hit;
    const parsed = parseQuery(query, "query");
    const { body, nslots, vars, errors } = compileQueryBody(parsed, this.queryEnv);
    if (errors.length > 0) throw new RegoErrors(errors);
    const q = { body: normalizeBody(body), nslots, vars };
    if (this.queries.size > 1000) this.queries.clear();
    this.queries.set(query, q);
    return q;
  }
}

/** Compiles modules and data. Throws RegoErrors (every parse and compile error found). */
export function compile(opts: CompileOptions): CompiledPolicy {
  const errors: RegoError[] = [];
  const root = new TreeNode([]);
  const modules: ast.Module[] = [...(opts.parsed ?? [])];
  for (const m of opts.modules) {
    try {
      modules.push(parseModule(m.source, m.file));
    } catch (e) {
      if (e instanceof RegoErrors) errors.push(...e.errors);
      else if (e instanceof RegoError) errors.push(e);
      else throw e;
    }
  }
  if (errors.length > 0) throw new RegoErrors(errors);

  const global: GlobalEnv = { functions: new Map(), rules: new Set() };
  const localRules = new Map<string, Set<string>>();
  const placed: {
    rule: ast.Rule;
    env: ModuleEnv | null;
    pkg: string[];
    staticPath: string[];
    dynamicFrom: number;
  }[] = [];

  for (const m of modules) {
    const pkg = packagePath(m);
    const pk = pathKey(pkg);
    if (!localRules.has(pk)) localRules.set(pk, new Set());
    nodeAt(root, pkg); // a package is a document even without rules
    for (const rule of m.rules) {
      const ref = rule.head.ref;
      const first = ref[0]!;
      if (first.type !== "var") {
        errors.push(new RegoError("rego_parse_error", "rule head must start with a name", rule.loc));
        continue;
      }
      let dynamicFrom = 1;
      const staticPath = [...pkg, first.name];
      while (dynamicFrom < ref.length && ref[dynamicFrom]!.type === "string") {
        staticPath.push((ref[dynamicFrom] as ast.StringTerm).value);
        dynamicFrom++;
      }
      localRules.get(pk)!.add(first.name);
      if (rule.head.args) global.functions.set(pathKey(staticPath), rule.head.args.length);
      global.rules.add(pathKey(staticPath));
      placed.push({ rule, env: null, pkg, staticPath, dynamicFrom });
    }
  }

  const envs = new Map<ast.Module, ModuleEnv>();
  for (const m of modules) {
    const pkg = packagePath(m);
    const imports = new Map<string, ImportTarget>();
    for (const imp of m.imports) {
      const t = importTarget(imp);
      if (!t) continue;
      const alias = imp.alias ?? t.path[t.path.length - 1] ?? t.root;
      imports.set(alias, t);
    }
    envs.set(m, { pkg, localRules: localRules.get(pathKey(pkg))!, imports, global });
  }

  for (const p of placed) {
    const { rule, staticPath, dynamicFrom } = p;
    const env = envs.get(rule.module)!;
    const compiled = compileRuleChain(rule, env, dynamicFrom);
    const errs = compiled.errors;
    const chain = compiled.chain.map(normalizeRule);
    errors.push(...errs);
    const node = nodeAt(root, staticPath);
    const head = rule.head;
    const kind: RuleDef["kind"] = head.args
      ? "function"
      : head.contains
        ? "multi"
        : dynamicFrom < head.ref.length
          ? "partial"
          : "complete";
    const def: RuleDef = {
      kind,
      path: staticPath,
      chain,
      isDefault: rule.default,
      loc: rule.loc,
      name: "data." + staticPath.join("."),
      guard: undefined,
    };
    if (kind === "function") node.functions.push(def);
    else if (rule.default) {
      if (node.defaultRule) {
        errors.push(new RegoError("rego_type_error", `multiple default rules ${def.name} found`, rule.loc));
      }
      node.defaultRule = def;
    } else if (kind === "complete") node.complete.push(def);
    else if (kind === "multi") node.multi.push(def);
    else node.partial.push(def);
  }
  numberNodes(root, 0);
  checkConflicts(root, errors);
  if (errors.length === 0) errors.push(...checkRecursion(root));
  if (errors.length > 0) throw new RegoErrors(errors);
  return new CompiledPolicy(modules, root, fromJS(opts.data ?? {}), global);
}

function numberNodes(node: TreeNode, next: number): number {
  node.id = next++;
  for (const c of node.children.values()) next = numberNodes(c, next);
  return next;
}

function checkConflicts(node: TreeNode, errors: RegoError[]): void {
  const kinds = [
    node.complete.length > 0 || node.defaultRule,
    node.multi.length > 0,
    node.functions.length > 0,
  ].filter(Boolean).length;
  if (kinds > 1) {
    const loc = node.complete[0]?.loc ?? node.multi[0]?.loc ?? node.functions[0]?.loc;
    errors.push(new RegoError("rego_type_error", `conflicting rules ${node.name} found`, loc));
  }
  for (const c of node.children.values()) checkConflicts(c, errors);
}

function nodeAt(root: TreeNode, path: string[]): TreeNode {
  let n = root;
  for (const p of path) {
    let c = n.children.get(p);
    if (!c) {
      c = new TreeNode([...n.path, p]);
      n.children.set(p, c);
    }
    n = c;
  }
  return n;
}

function packagePath(m: ast.Module): string[] {
  const out: string[] = [];
  for (const t of m.package.path) {
    if (t.type === "string") out.push(t.value);
  }
  return out;
}

function importTarget(imp: ast.Import): ImportTarget | null {
  const head = imp.path.head;
  if (head.type !== "var") return null;
  if (head.name !== "data" && head.name !== "input") return null;
  const path: string[] = [];
  for (const t of imp.path.path) {
    if (t.type !== "string") return null;
    path.push(t.value);
  }
  return { root: head.name, path };
}
