// RFC 6750 §3 challenges (+ RFC 9728 `resource_metadata`). Values are quoted-strings; `error_description`
// is further limited to %x20-21 / %x23-5B / %x5D-7E, so anything else is replaced rather than escaped.
import type { AuthnError } from "./types.js";

export interface ChallengeOptions {
  realm: string;
  /** RFC 9728 metadata URL of this resource. */
  resourceMetadata?: string;
  error?: "invalid_request" | "invalid_token" | "insufficient_scope" | string;
  errorDescription?: string;
  /** Required scopes for `insufficient_scope`. */
  scope?: string | string[];
  scheme?: string;
  /** Further auth-params of the scheme, e.g. RFC 9449 `algs`; values are quoted. */
  params?: Readonly<Record<string, string>>;
}

/** quoted-string per RFC 9110 §5.6.4; control characters cannot be escaped there, so they are dropped. */
export function quote(value: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, "");
  return `"${clean.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function descriptionChars(value: string): string {
  return value.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, "?");
}

function scopeValue(scope: string | string[]): string {
  const list = Array.isArray(scope) ? scope : scope.split(" ");
  // scope-token = 1*( %x21 / %x23-5B / %x5D-7E ); a token outside that cannot be expressed, so drop it.
  return list.filter((s) => /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s)).join(" ");
}

export function buildChallenge(o: ChallengeOptions): string {
  const params = [`realm=${quote(o.realm)}`];
  if (o.scope !== undefined) params.push(`scope=${quote(scopeValue(o.scope))}`);
  if (o.error) params.push(`error=${quote(descriptionChars(o.error))}`);
  if (o.error && o.errorDescription)
    params.push(`error_description=${quote(descriptionChars(o.errorDescription))}`);
  for (const [name, value] of Object.entries(o.params ?? {})) {
    if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) params.push(`${name}=${quote(value)}`);
  }
  if (o.resourceMetadata) params.push(`resource_metadata=${quote(o.resourceMetadata)}`);
  return `${o.scheme ?? "Bearer"} ${params.join(", ")}`;
}

/**
 * Status and challenge for an authentication failure. `missing` gets the bare challenge (RFC 6750 §3.1:
 * no error code when the request had no credentials); `unavailable` is a 503 without a challenge because
 * retrying with other credentials cannot help.
 */
export function challengeFor(
  error: AuthnError,
  o: { realm: string; resourceMetadata?: string },
): { status: number; wwwAuthenticate?: string; body?: { error: string; error_description: string } } {
  switch (error.code) {
    case "missing":
      return { status: 401, wwwAuthenticate: buildChallenge({ ...o, ...(error.challenge ?? {}) }) };
    case "invalid_request":
    case "invalid_token":
    case "invalid_dpop_proof":
      return {
        status: error.status,
        wwwAuthenticate: buildChallenge({
          ...o,
          error: error.code,
          errorDescription: error.description,
          ...(error.challenge ?? {}),
        }),
        body: { error: error.code, error_description: error.description },
      };
    case "unavailable":
      return {
        status: 503,
        body: { error: "temporarily_unavailable", error_description: error.description },
      };
  }
}
