// The segment's `authentication` expression over its authenticators.
//
// Semantics (fail closed): every authenticator the expression names runs once, in parallel. A credential
// that was presented and failed is an error for the whole expression, even inside an `any` whose other
// branch succeeded — otherwise a bad token next to a good client certificate would be silently dropped and
// the request would proceed under a weaker identity than the caller claimed.
//   all: any error → that error; else any missing → missing; else ok (union of methods)
//   any: any error → that error; else any ok → ok (union of the ok branches' methods); else missing
// "That error" is the first in expression order. `missing` becomes the bare RFC 6750 challenge.
import { MtlsAuthenticator } from "./mtls.js";
import {
  AuthnError,
  type Authenticator,
  type AuthnResult,
  type Identity,
  type RequestFacts,
} from "./types.js";

export type AuthnExpr = string | { any: AuthnExpr[] } | { all: AuthnExpr[] };

export type CombinedResult =
  | {
      ok: true;
      /** Every method that succeeded in a satisfied branch, in expression order (`input.authn.methods`). */
      methods: string[];
      /** The identity that names the caller: a token/credential identity wins over mTLS. */
      identity: Identity;
      /** Identities by method, e.g. `mtls` for `input.peer` next to `bearer` for `input.token`. */
      identities: Record<string, Identity>;
    }
  | { ok: false; error: AuthnError };

type Node = { state: "ok"; methods: string[] } | { state: "missing" } | { state: "error"; error: AuthnError };

/** The expression with each method name resolved to its index in `names`, built once per segment. */
type Compiled = { index: number; name: string } | { all: boolean; children: Compiled[] };

const MISSING: Node = Object.freeze({ state: "missing" });

export class AuthnCombiner {
  private readonly compiled: Compiled;
  private readonly authenticators: Map<string, Authenticator>;
  private readonly names: string[];
  /** `authenticators` in `names` order, so a request needs no map lookups. */
  private readonly ordered: Authenticator[];
  private readonly mtlsNames: ReadonlySet<string>;
  private readonly allSync: boolean;
  /**
   * The last combined result per first identity (a connection's peer, a cached token): a keep-alive
   * caller repeating its credentials gets the same (frozen) object, so what the gateway derives from it
   * (caller type, decision context) is derived once. Reused only when every authenticator returned the
   * same outcome — the same identity objects, the same absences — and never for an error.
   */
  private readonly lastByIdentity = new WeakMap<
    Identity,
    { outcomes: (Identity | undefined)[]; combined: CombinedResult }
  >();

  constructor(expr: AuthnExpr, authenticators: Iterable<Authenticator>) {
    this.authenticators = new Map();
    for (const a of authenticators) {
      if (this.authenticators.has(a.name)) throw new Error(`duplicate authenticator ${a.name}`);
      this.authenticators.set(a.name, a);
    }
    const names: string[] = [];
    const check = (e: AuthnExpr, path: string): Compiled => {
      if (typeof e === "string") {
        if (!this.authenticators.has(e)) throw new Error(`${path}: unknown authenticator '${e}'`);
        let index = names.indexOf(e);
        if (index < 0) index = names.push(e) - 1;
        return { index, name: e };
      }
      if (typeof e !== "object" || e === null || Object.keys(e).length !== 1) {
        throw new Error(`${path}: expected a method name, {any: [...]} or {all: [...]}`);
      }
      const [op, list] = Object.entries(e)[0] as [string, unknown];
      if ((op !== "any" && op !== "all") || !Array.isArray(list) || list.length === 0) {
        throw new Error(`${path}: expected a non-empty 'any' or 'all' list`);
      }
      return {
        all: op === "all",
        children: list.map((c: AuthnExpr, i) => check(c, `${path}.${op}[${i}]`)),
      };
    };
    this.compiled = check(expr, "authentication");
    this.names = names;
    this.ordered = names.map((n) => this.authenticators.get(n)!);
    this.mtlsNames = new Set(names.filter((n) => this.authenticators.get(n) instanceof MtlsAuthenticator));
    this.allSync = this.ordered.every((a) => typeof a.authenticateSync === "function");
  }

  /**
   * The combined result when every authenticator can answer without I/O (all of them cached or
   * synchronous by nature), `undefined` when `authenticate` must run. Same semantics as `authenticate`.
   */
  authenticateSync(facts: RequestFacts): CombinedResult | undefined {
    if (!this.allSync) return undefined;
    const n = this.ordered.length;
    const results = new Array<AuthnResult>(n);
    for (let i = 0; i < n; i++) {
      let r: AuthnResult | undefined;
      try {
        r = this.ordered[i].authenticateSync!(facts);
      } catch (e) {
        r = unavailable(e);
      }
      if (r === undefined) return undefined;
      results[i] = r;
    }
    return this.combine(results);
  }

  async authenticate(facts: RequestFacts): Promise<CombinedResult> {
    const settled = await Promise.all(this.ordered.map((a) => a.authenticate(facts).catch(unavailable)));
    return this.combine(settled);
  }

  private combine(results: AuthnResult[]): CombinedResult {
    let first: Identity | undefined;
    for (const r of results) {
      if (r.kind === "error") return this.combineFresh(results);
      if (r.kind === "ok" && first === undefined) first = r.identity;
    }
    if (first === undefined) return this.combineFresh(results);
    const last = this.lastByIdentity.get(first);
    if (last !== undefined && sameOutcomes(last.outcomes, results)) return last.combined;
    const combined = this.combineFresh(results);
    if (combined.ok) {
      Object.freeze(combined.methods);
      Object.freeze(combined.identities);
      Object.freeze(combined);
      this.lastByIdentity.set(first, {
        outcomes: results.map((r) => (r.kind === "ok" ? r.identity : undefined)),
        combined,
      });
    }
    return combined;
  }

  private combineFresh(results: AuthnResult[]): CombinedResult {
    const root = evaluate(this.compiled, results);
    if (root.state === "error") return { ok: false, error: root.error };
    if (root.state === "missing")
      return { ok: false, error: new AuthnError("missing", "authentication required") };
    const methods: string[] = [];
    for (const m of root.methods) if (!methods.includes(m)) methods.push(m);
    const identities: Record<string, Identity> = {};
    for (const m of methods) {
      const r = results[this.names.indexOf(m)];
      if (r.kind === "ok") identities[m] = r.identity;
    }
    const primary = methods.find((m) => !this.mtlsNames.has(m)) ?? methods[0];
    return { ok: true, methods, identity: identities[primary], identities };
  }
}

/** Every result is the ok identity (same object) or the absence recorded in `outcomes`; no errors. */
function sameOutcomes(outcomes: readonly (Identity | undefined)[], results: readonly AuthnResult[]): boolean {
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    if (r.kind === "error" || (r.kind === "ok" ? r.identity : undefined) !== outcomes[i]) return false;
  }
  return true;
}

function unavailable(e: unknown): AuthnResult {
  return { kind: "error", error: new AuthnError("unavailable", "authentication failed", { cause: e }) };
}

function evaluate(e: Compiled, results: readonly AuthnResult[]): Node {
  if ("index" in e) {
    const r = results[e.index];
    if (r.kind === "ok") return { state: "ok", methods: [e.name] };
    if (r.kind === "error") return { state: "error", error: r.error };
    return MISSING;
  }
  // Every child is evaluated before deciding, so the first error in expression order wins.
  const children = e.children.map((c) => evaluate(c, results));
  for (const c of children) if (c.state === "error") return c;
  const okMethods: string[] = [];
  let missing = false;
  for (const c of children) {
    if (c.state === "ok") okMethods.push(...c.methods);
    else missing = true;
  }
  if (e.all) return missing ? MISSING : { state: "ok", methods: okMethods };
  return okMethods.length > 0 ? { state: "ok", methods: okMethods } : MISSING;
}
