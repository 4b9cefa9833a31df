// Binding: an attestation result counts for a caller only when it is about that caller. The result
// may name the workload (`sub`: a SPIFFE ID or WIMSE identifier) and/or confirm a key (`cnf`, RFC
// 7800: `x5t#S256` of the client certificate, `jkt` or `jwk` for a DPoP key). Rule: at least one of
// the bindings the result carries must match what this request proved, and none that can be
// checked on this request may contradict it — a result for another agent never helps.
import { timingSafeEqual } from "node:crypto";
import { jwkThumbprint } from "./keys.js";

/** What the gateway verified about the caller on this request. */
export interface CallerFacts {
  /** From a verified X.509-SVID (mTLS) or JWT-SVID. */
  spiffeId?: string;
  /** A WIMSE workload identifier from a verified WIT. */
  workloadId?: string;
  /** RFC 8705 thumbprint of the client certificate on this connection. */
  certThumbprint?: string;
  /** RFC 7638 thumbprint of the key of a verified DPoP proof (or WIT `cnf.jwk`). */
  dpopJkt?: string;
}

export type BindingMethod = "sub" | "x5t#S256" | "jkt";

export type Binding =
  { bound: true; method: BindingMethod; identity: string } | { bound: false; reason: string };

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function short(s: string): string {
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** Decides whether verified EAR claims belong to the caller. Pure: no I/O, no clock. */
export function bindResult(claims: Record<string, unknown>, caller: CallerFacts): Binding {
  const matches: { method: BindingMethod; identity: string }[] = [];
  const mismatches: string[] = [];
  let named = false;

  const sub = claims.sub;
  if (sub !== undefined) {
    if (typeof sub !== "string") return { bound: false, reason: "attestation result sub is not a string" };
    named = true;
    const ids = [caller.spiffeId, caller.workloadId].filter((x): x is string => x !== undefined);
    if (ids.length > 0) {
      // Workload identifiers compare as whole URIs: no prefix or case folding (WIMSE identifier §3).
      if (ids.includes(sub)) matches.push({ method: "sub", identity: sub });
      else mismatches.push(`it names ${short(sub)}, the caller is ${short(ids[0]!)}`);
    }
  }

  const cnf = claims.cnf;
  if (cnf !== undefined) {
    if (typeof cnf !== "object" || cnf === null || Array.isArray(cnf)) {
      return { bound: false, reason: "attestation result cnf is not an object" };
    }
    const c = cnf as Record<string, unknown>;
    // A confirmation member of the wrong type is a broken result, never one to skip over.
    for (const m of ["x5t#S256", "jkt"]) {
      if (c[m] !== undefined && typeof c[m] !== "string") {
        return { bound: false, reason: `attestation result cnf.${m} is not a string` };
      }
    }
    const x5t = c["x5t#S256"];
    if (typeof x5t === "string") {
      named = true;
      if (caller.certThumbprint !== undefined) {
        if (safeEqual(x5t, caller.certThumbprint)) matches.push({ method: "x5t#S256", identity: x5t });
        else mismatches.push("its cnf x5t#S256 is not the client certificate of this connection");
      }
    }
    let jkt = typeof c.jkt === "string" ? c.jkt : undefined;
    if (c.jwk !== undefined) {
      let fromJwk: string;
      try {
        if (typeof c.jwk !== "object" || c.jwk === null || Array.isArray(c.jwk)) throw new Error("not a JWK");
        fromJwk = jwkThumbprint(c.jwk as Record<string, unknown>);
      } catch {
        return { bound: false, reason: "attestation result cnf.jwk is not a usable public key" };
      }
      // Two spellings of the key must name the same key, or the result binds to neither.
      if (jkt !== undefined && !safeEqual(jkt, fromJwk)) {
        return { bound: false, reason: "attestation result cnf.jkt and cnf.jwk name different keys" };
      }
      jkt = fromJwk;
    }
    if (jkt !== undefined) {
      named = true;
      if (caller.dpopJkt !== undefined) {
        if (safeEqual(jkt, caller.dpopJkt)) matches.push({ method: "jkt", identity: jkt });
        else mismatches.push("its cnf key is not the DPoP key of this request");
      }
    }
  }

  if (!named) {
    return { bound: false, reason: "attestation result names no workload (no sub or cnf) to bind it to" };
  }
  if (mismatches.length > 0) {
    return { bound: false, reason: `attestation result is for another workload: ${mismatches.join("; ")}` };
  }
  if (matches.length === 0) {
    return {
      bound: false,
      reason: "attestation result cannot be bound: this request proves none of the identities it names",
    };
  }
  return { bound: true, ...matches[0]! };
}
