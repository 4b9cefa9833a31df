// The EAR profiles we can parse, and the claim names each one uses. The IETF drafts and the Veraison
// libraries spell the same claims differently; `eat_profile` says which spelling a token uses, and
// only the profiles a deployment configured are accepted.

/** draft-ietf-rats-ear-04 (the editor's copy moved to `#05` with the same claim names). */
export const EAR_DRAFT_PROFILE = "tag:ietf.org,2026:rats/ear#04";
export const EAR_DRAFT_NEXT_PROFILE = "tag:ietf.org,2026:rats/ear#05";
/** The Veraison verifier and its `ear` libraries (draft-fv-rats-ear names). */
export const VERAISON_PROFILE = "tag:github.com,2023:veraison/ear";

export interface ClaimNames {
  /** Top-level and per-submodule tier. */
  status: string;
  /** Per-submodule AR4SI vector. */
  trustVector: string;
  /** Top-level `{developer, build}`. */
  verifierId: string;
  /** Per-submodule appraisal policy id(s). */
  policyIds: string;
  /** Whether `policyIds` is a non-empty array (drafts) or one string (Veraison). */
  policyIdsIsArray: boolean;
  /** Whether issuers put an overall tier at the top level (drafts; Veraison only per submodule). */
  topLevelStatus: boolean;
}

const DRAFT_NAMES: ClaimNames = {
  status: "ear_status",
  trustVector: "ear_trustworthiness_vector",
  verifierId: "ear_verifier_id",
  policyIds: "ear_appraisal_policy_ids",
  policyIdsIsArray: true,
  topLevelStatus: true,
};

const VERAISON_NAMES: ClaimNames = {
  status: "ear.status",
  trustVector: "ear.trustworthiness-vector",
  verifierId: "ear.verifier-id",
  policyIds: "ear.appraisal-policy-id",
  policyIdsIsArray: false,
  topLevelStatus: false,
};

/** Every profile this code can parse, by `eat_profile` value. */
export const KNOWN_PROFILES: Readonly<Record<string, ClaimNames>> = {
  [EAR_DRAFT_PROFILE]: DRAFT_NAMES,
  [EAR_DRAFT_NEXT_PROFILE]: DRAFT_NAMES,
  [VERAISON_PROFILE]: VERAISON_NAMES,
};

/** Accepted when a deployment does not choose: the current draft and Veraison's form. */
export const DEFAULT_PROFILES = [EAR_DRAFT_PROFILE, VERAISON_PROFILE];

/** Short names for config files and the CLI. */
export const PROFILE_ALIASES: Readonly<Record<string, string>> = {
  draft: EAR_DRAFT_PROFILE,
  veraison: VERAISON_PROFILE,
};

/** A profile URI from a URI or alias; undefined when we cannot parse that profile. */
export function resolveProfile(nameOrUri: string): string | undefined {
  const uri = PROFILE_ALIASES[nameOrUri] ?? nameOrUri;
  return Object.prototype.hasOwnProperty.call(KNOWN_PROFILES, uri) ? uri : undefined;
}

export function claimNames(profile: string): ClaimNames | undefined {
  return Object.prototype.hasOwnProperty.call(KNOWN_PROFILES, profile) ? KNOWN_PROFILES[profile] : undefined;
}
