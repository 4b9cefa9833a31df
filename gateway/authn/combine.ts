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

export class AuthnCombiner {
  private readonly expr: AuthnExpr;
  private readonly authenticators: Map<string, Authenticator>;
  private readonly names: string[];

  constructor(expr: AuthnExpr, authenticators: Iterable<Authenticator>) {
    this.authenticators = new Map();
    for (const a of authenticators) {
      if (this.authenticators.has(a.name)) throw new Error(`duplicate authenticator ${a.name}`);
      this.authenticators.set(a.name, a);
    }
    const names = new Set<string>();
    const check = (e: AuthnExpr, path: string): void => {
      if (typeof e === "string") {
        if (!this.authenticators.has(e)) throw new Error(`${path}: unknown authenticator '${e}'`);
        names.add(e);
        return;
      }
      if (typeof e !== "object" || e === null || Object.keys(e).length !== 1) {
        throw new Error(`${path}: expected a method name, {any: [...]} or {all: [...]}`);
      }
      const [op, list] = Object.entries(e)[0] as [string, unknown];
      if ((op !== "any" && op !== "all") || !Array.isArray(list) || list.length === 0) {
        throw new Error(`${path}: expected a non-empty 'any' or 'all' list`);
      }
      list.forEach((c: AuthnExpr, i) => check(c, `${path}.${op}[${i}]`));
    };
    check(expr, "authentication");
    this.expr = expr;
    this.names = [...names];
  }

  async authenticate(facts: RequestFacts): Promise<CombinedResult> {
    const results = new Map<string, AuthnResult>();
    const settled = await Promise.all(
      this.names.map((n) =>
        this.authenticators
          .get(n)!
          .authenticate(facts)
          .catch((e: unknown): AuthnResult => ({
            kind: "error",
            error: new AuthnError("unavailable", "authentication failed", { cause: e }),
          })),
      ),
    );
    this.names.forEach((n, i) => results.set(n, settled[i]));
    const root = evaluate(this.expr, results);
    if (root.state === "error") return { ok: false, error: root.error };
    if (root.state === "missing")
      return { ok: false, error: new AuthnError("missing", "authentication required") };
    const methods = [...new Set(root.methods)];
    const identities: Record<string, Identity> = {};
    for (const m of methods) {
      const r = results.get(m)!;
      if (r.kind === "ok") identities[m] = r.identity;
    }
    const primary =
      methods.find((m) => !(this.authenticators.get(m) instanceof MtlsAuthenticator)) ?? methods[0];
    return { ok: true, methods, identity: identities[primary], identities };
  }
}

function evaluate(e: AuthnExpr, results: Map<string, AuthnResult>): Node {
  if (typeof e === "string") {
    const r = results.get(e)!;
    if (r.kind === "ok") return { state: "ok", methods: [e] };
    if (r.kind === "error") return { state: "error", error: r.error };
    return { state: "missing" };
  }
  const isAll = "all" in e;
  const children = (isAll ? e.all : e.any).map((c) => evaluate(c, results));
  const firstError = children.find((c) => c.state === "error");
  if (firstError) return firstError;
  const okMethods = children.flatMap((c) => (c.state === "ok" ? c.methods : []));
  if (isAll) {
    return children.some((c) => c.state === "missing")
      ? { state: "missing" }
      : { state: "ok", methods: okMethods };
  }
  return okMethods.length > 0 ? { state: "ok", methods: okMethods } : { state: "missing" };
}
