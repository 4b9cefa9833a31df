// The config of `portcullis verifier` (YAML). Like the other loaders, every error names the file,
// line and key path, all errors are reported at once, and unknown keys are errors.
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { dirname, resolve } from "node:path";
import { resolveProfile, VERAISON_PROFILE } from "../ear/profiles.js";
import type { VerifierId } from "../ear/types.js";
import { loadPrivateKey, loadPublicKey, type LoadedPrivateKey, type LoadedPublicKey } from "../keys.js";
import type { ReferenceValues } from "./appraise.js";
import { DIGEST, EVIDENCE_MEDIA_TYPE, type RuntimeValue } from "./evidence.js";
import {
  describeValue as describe,
  parseYamlConfig,
  unreadable,
  YamlValidator,
  type ConfigIssue,
  type ParsedYaml,
} from "../../lib/yaml_config.js";

export interface AttesterConfig {
  name: string;
  /** The workload the EAR names (`sub`): from config, or the certificate's single URI SAN. */
  id?: string;
  key: LoadedPublicKey;
  reference_values: ReferenceValues;
}

export interface VerifierConfig {
  file?: string;
  listen: { host: string; port: number };
  tls?: { cert: string; key: string };
  /** The EAR profile issued (URI). */
  profile: string;
  signing_key: LoadedPrivateKey;
  verifier_id: VerifierId;
  ear_ttl_s: number;
  session_ttl_s: number;
  max_sessions: number;
  evidence_max_age_s: number;
  clock_skew_s: number;
  media_type: string;
  attesters: AttesterConfig[];
}

export const VERIFIER_DEFAULTS = {
  listen: "127.0.0.1:8710",
  profile: VERAISON_PROFILE,
  verifier_id: {
    developer: "https://github.com/portcullis/reference-verifier",
    build: "portcullis-verifier 0.1",
  },
  ear_ttl_s: 300,
  session_ttl_s: 120,
  max_sessions: 10_000,
  evidence_max_age_s: 300,
  clock_skew_s: 30,
} as const;

export type { ConfigIssue };

export class VerifierConfigError extends Error {
  override name = "VerifierConfigError";
  constructor(readonly issues: ConfigIssue[]) {
    const lines = issues.map((e) => {
      const at = e.line !== undefined ? `${e.file}:${e.line}:${e.col ?? 1}` : e.file;
      return `${at}: ${e.path === "" ? "" : e.path + ": "}${e.message}`;
    });
    super(
      `invalid verifier config (${issues.length} error${issues.length === 1 ? "" : "s"}):\n${lines.join("\n")}`,
    );
  }
}

export function loadVerifierConfig(file: string): VerifierConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch (e) {
    throw new VerifierConfigError([unreadable(abs, e)]);
  }
  return parseVerifierConfig(text, abs);
}

export function parseVerifierConfig(text: string, file: string): VerifierConfig {
  const abs = resolve(file);
  const parsed = parseYamlConfig(text, abs);
  if (Array.isArray(parsed)) throw new VerifierConfigError(parsed);
  const v = new Validator(abs, dirname(abs), parsed);
  const config = v.config(parsed.value);
  if (v.issues.length > 0 || !config) throw new VerifierConfigError(v.issues);
  return { ...config, file: abs };
}

type Path = (string | number)[];
type Obj = Record<string, unknown>;

const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
const REF_KEYS = [
  "image_digests",
  "denied_image_digests",
  "config_hashes",
  "denied_config_hashes",
  "runtime",
  "tee",
];
const WORKLOAD_ID = /^(spiffe|wimse):\/\/[^/?#@:]+(\/[^?#]*)?$/;

export function parseListen(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? (m[2] === "" ? "0.0.0.0" : m[2]!);
  if (m[1] !== undefined && isIP(m[1]) !== 6) return undefined;
  if (m[1] === undefined && isIP(host) === 0 && !HOSTNAME.test(host)) return undefined;
  return { host, port };
}

class Validator extends YamlValidator {
  constructor(
    source: string,
    private readonly dir: string,
    yaml: ParsedYaml,
  ) {
    super(source, yaml);
  }

  str(o: Obj, key: string, path: Path, required = false): string | undefined {
    const v = o[key];
    if (v === undefined) {
      if (required) this.err([...path, key], "is required");
      return undefined;
    }
    if (typeof v !== "string" || v === "") {
      this.err([...path, key], `must be a non-empty string, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }

  int(o: Obj, key: string, path: Path, min: number, max: number, def: number): number {
    const v = o[key];
    if (v === undefined) return def;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.err([...path, key], `must be an integer from ${min} to ${max}, got ${describe(v)}`);
      return def;
    }
    return v;
  }

  file(o: Obj, key: string, path: Path, required: boolean): string | undefined {
    const s = this.str(o, key, path, required);
    if (s === undefined) return undefined;
    const abs = resolve(this.dir, s);
    if (!existsSync(abs)) {
      this.err([...path, key], `not found: ${abs}`);
      return undefined;
    }
    return abs;
  }

  digests(o: Obj, key: string, path: Path): string[] {
    const v = o[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      this.err([...path, key], `must be a list of digests, got ${describe(v)}`);
      return [];
    }
    const out: string[] = [];
    v.forEach((d, i) => {
      if (typeof d !== "string" || !DIGEST.test(d))
        this.err([...path, key, i], "must look like sha256:<hex>");
      else out.push(d);
    });
    return out;
  }

  references(val: unknown, path: Path): ReferenceValues | undefined {
    const o = this.obj(val, path, REF_KEYS);
    if (!o) return undefined;
    const runtime: Record<string, RuntimeValue> = {};
    if (o.runtime !== undefined) {
      const r = this.obj(o.runtime, [...path, "runtime"], Object.keys(o.runtime ?? {}));
      for (const [k, x] of Object.entries(r ?? {})) {
        if (typeof x === "string" || typeof x === "number" || typeof x === "boolean") runtime[k] = x;
        else this.err([...path, "runtime", k], `must be a string, number or boolean, got ${describe(x)}`);
      }
    }
    let tee: string[] | undefined;
    if (o.tee !== undefined) {
      if (
        !Array.isArray(o.tee) ||
        o.tee.length === 0 ||
        !o.tee.every((t) => typeof t === "string" && t !== "")
      ) {
        this.err([...path, "tee"], "must be a non-empty list of strings");
      } else tee = o.tee as string[];
    }
    return {
      image_digests: this.digests(o, "image_digests", path),
      denied_image_digests: this.digests(o, "denied_image_digests", path),
      config_hashes: this.digests(o, "config_hashes", path),
      denied_config_hashes: this.digests(o, "denied_config_hashes", path),
      runtime,
      ...(tee ? { tee } : {}),
    };
  }

  config(val: unknown): Omit<VerifierConfig, "file"> | undefined {
    if (val === null || val === undefined) {
      this.err([], "config is empty");
      return undefined;
    }
    const root = this.obj(
      val,
      [],
      [
        "listen",
        "tls",
        "profile",
        "signing_key",
        "verifier_id",
        "ear_ttl_s",
        "session_ttl_s",
        "max_sessions",
        "evidence_max_age_s",
        "clock_skew_s",
        "media_type",
        "reference_values",
        "attesters",
      ],
    );
    if (!root) return undefined;

    const listenText = this.str(root, "listen", []) ?? VERIFIER_DEFAULTS.listen;
    const listen = parseListen(listenText);
    if (!listen)
      this.err(["listen"], `must be host:port, [ipv6]:port or :port, got ${JSON.stringify(listenText)}`);

    let tls: VerifierConfig["tls"];
    if (root.tls !== undefined) {
      const o = this.obj(root.tls, ["tls"], ["cert", "key"]);
      if (o) {
        const cert = this.file(o, "cert", ["tls"], true);
        const key = this.file(o, "key", ["tls"], true);
        if (cert && key) tls = { cert, key };
      }
    }

    const profileText = this.str(root, "profile", []) ?? VERIFIER_DEFAULTS.profile;
    const profile = resolveProfile(profileText);
    if (!profile)
      this.err(
        ["profile"],
        `unknown EAR profile ${JSON.stringify(profileText)} (draft, veraison or a profile URI)`,
      );

    let signing_key: LoadedPrivateKey | undefined;
    const keyFile = this.file(root, "signing_key", [], true);
    if (keyFile) {
      try {
        signing_key = loadPrivateKey(keyFile);
      } catch (e) {
        this.err(["signing_key"], `cannot load a private signing key: ${(e as Error).message}`);
      }
    }

    let verifier_id: VerifierId = { ...VERIFIER_DEFAULTS.verifier_id };
    if (root.verifier_id !== undefined) {
      const o = this.obj(root.verifier_id, ["verifier_id"], ["developer", "build"]);
      if (o) {
        verifier_id = {
          developer: this.str(o, "developer", ["verifier_id"], true) ?? "",
          build: this.str(o, "build", ["verifier_id"], true) ?? "",
        };
      }
    }

    const media_type = this.str(root, "media_type", []) ?? EVIDENCE_MEDIA_TYPE;
    const defaults =
      root.reference_values !== undefined
        ? this.references(root.reference_values, ["reference_values"])
        : this.references({}, ["reference_values"]);

    const attesters: AttesterConfig[] = [];
    if (!Array.isArray(root.attesters) || root.attesters.length === 0) {
      this.err(["attesters"], root.attesters === undefined ? "is required" : "must be a non-empty list");
    } else {
      const names = new Set<string>();
      const kids = new Map<string, string>();
      root.attesters.forEach((raw, i) => {
        const p: Path = ["attesters", i];
        const o = this.obj(raw, p, ["name", "id", "public_key", "reference_values"]);
        if (!o) return;
        const name = this.str(o, "name", p, true);
        if (name !== undefined) {
          if (names.has(name)) this.err([...p, "name"], `duplicate attester name "${name}"`);
          names.add(name);
        }
        const keyPath = this.file(o, "public_key", p, true);
        let key: LoadedPublicKey | undefined;
        if (keyPath) {
          try {
            key = loadPublicKey(keyPath);
          } catch (e) {
            this.err(
              [...p, "public_key"],
              `cannot load a public key or certificate: ${(e as Error).message}`,
            );
          }
        }
        if (key) {
          const other = kids.get(key.kid);
          if (other !== undefined) this.err([...p, "public_key"], `same key as attester "${other}"`);
          kids.set(key.kid, name ?? String(i));
        }
        let id = this.str(o, "id", p);
        if (id !== undefined && !WORKLOAD_ID.test(id)) {
          this.err([...p, "id"], "must be a spiffe:// or wimse:// workload identifier");
          id = undefined;
        }
        if (id === undefined && key?.cert) {
          // An X.509-SVID names its workload in its one URI SAN.
          if (key.cert.uris.length === 1 && WORKLOAD_ID.test(key.cert.uris[0]!)) id = key.cert.uris[0];
        }
        const refs =
          o.reference_values !== undefined
            ? this.references(o.reference_values, [...p, "reference_values"])
            : defaults;
        if (name !== undefined && key && refs) {
          attesters.push({ name, key, reference_values: refs, ...(id !== undefined ? { id } : {}) });
        }
      });
    }

    const ear_ttl_s = this.int(root, "ear_ttl_s", [], 1, 86_400, VERIFIER_DEFAULTS.ear_ttl_s);
    const session_ttl_s = this.int(root, "session_ttl_s", [], 1, 3600, VERIFIER_DEFAULTS.session_ttl_s);
    const max_sessions = this.int(root, "max_sessions", [], 1, 1_000_000, VERIFIER_DEFAULTS.max_sessions);
    const evidence_max_age_s = this.int(
      root,
      "evidence_max_age_s",
      [],
      1,
      86_400,
      VERIFIER_DEFAULTS.evidence_max_age_s,
    );
    const clock_skew_s = this.int(root, "clock_skew_s", [], 0, 300, VERIFIER_DEFAULTS.clock_skew_s);
    if (!listen || !profile || !signing_key) return undefined;
    return {
      listen,
      ...(tls ? { tls } : {}),
      profile,
      signing_key,
      verifier_id,
      ear_ttl_s,
      session_ttl_s,
      max_sessions,
      evidence_max_age_s,
      clock_skew_s,
      media_type,
      attesters,
    };
  }
}
