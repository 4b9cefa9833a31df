// Identifier translation: pattern captures, map files, the local/foreign default, and the config
// validation that names the file, the key path and the line.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, parseConfig, type ConfigIssue, type Segment } from "../../../gateway/config/index.js";
import { compileTranslation, localTrustDomain } from "../../../gateway/server/translate.js";

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-translate-"));
  for (const f of ["gw.pem", "gw.key", "ca.pem"]) writeFileSync(join(dir, f), "");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type TranslationSegment = Pick<Segment, "local_trust_domain" | "identity_translation" | "tls">;

function seg(o: Partial<TranslationSegment> & { trust_domains?: string[] } = {}): TranslationSegment {
  return {
    tls: { cert: "", key: "", client_ca: [], client_auth: "require", trust_domains: o.trust_domains ?? [] },
    ...(o.local_trust_domain !== undefined ? { local_trust_domain: o.local_trust_domain } : {}),
    ...(o.identity_translation !== undefined ? { identity_translation: o.identity_translation } : {}),
  };
}

function ids(entries: Record<string, string>): Record<string, string> {
  return Object.assign(Object.create(null) as Record<string, string>, entries);
}

describe("translate: patterns", () => {
  const t = compileTranslation(
    seg({
      local_trust_domain: "corp.example",
      identity_translation: [
        {
          pattern: "spiffe://partner.example/agent/*",
          local_id: "partner-agent:{1}",
          trust_domain: "partner.example",
        },
        {
          pattern: "spiffe://partner.example/ns/*/sa/*",
          local_id: "partner:{2}@{1}",
          trust_domain: "partner.example",
        },
        { pattern: "wimse://partner.example/team/**", local_id: "team:{1}", trust_domain: "partner.example" },
      ],
    }),
  );

  it("captures one segment per * and numbers them in order", () => {
    expect(t("spiffe://partner.example/agent/planner")).toBe("partner-agent:planner");
    expect(t("spiffe://partner.example/ns/prod/sa/billing")).toBe("partner:billing@prod");
  });

  it("a final ** captures one or more segments joined by /, never none", () => {
    expect(t("wimse://partner.example/team/a/b/c")).toBe("team:a/b/c");
    expect(t("wimse://partner.example/team/a")).toBe("team:a");
    expect(t("wimse://partner.example/team")).toBeUndefined();
  });

  it("* matches exactly one segment; the scheme and trust domain must match exactly", () => {
    expect(t("spiffe://partner.example/agent/planner/extra")).toBeUndefined();
    expect(t("spiffe://partner.example/agent")).toBeUndefined();
    expect(t("wimse://partner.example/agent/planner")).toBeUndefined();
    expect(t("spiffe://evil.partner.example/agent/planner")).toBeUndefined();
    expect(t("spiffe://partner.example.evil/agent/planner")).toBeUndefined();
  });

  it("adversarial: a subject that is not a valid workload ID gets no local_id", () => {
    for (const s of [
      "spiffe://partner.example/agent/../admin",
      "spiffe://partner.example/agent/a%2fb",
      "SPIFFE://partner.example/agent/planner",
      "spiffe://Partner.example/agent/planner",
      "spiffe://partner.example/agent/planner/",
      "spiffe://partner.example:443/agent/planner",
      "spiffe://user@partner.example/agent/planner",
      "wimse://corp.example/agent/a?x=1",
    ]) {
      expect(t(s), s).toBeUndefined();
    }
  });

  it("adversarial: regex metacharacters in a pattern are literal, not a regex", () => {
    // `.` in a literal segment must not match any character.
    const r = compileTranslation(
      seg({
        identity_translation: [
          { pattern: "spiffe://p.example/a.b/*", local_id: "x:{1}", trust_domain: "p.example" },
        ],
      }),
    );
    expect(r("spiffe://p.example/a.b/q")).toBe("x:q");
    expect(r("spiffe://p.example/aXb/q")).toBeUndefined();
    expect(r("spiffe://pXexample/a.b/q")).toBeUndefined();
  });
});

describe("translate: map files and defaults", () => {
  it("first matching rule wins, map and pattern rules interleaved in order", () => {
    const t = compileTranslation(
      seg({
        identity_translation: [
          { map_file: "/x/ids.yaml", ids: ids({ "spiffe://partner.example/agent/vip": "vip-agent" }) },
          {
            pattern: "spiffe://partner.example/agent/*",
            local_id: "pa:{1}",
            trust_domain: "partner.example",
          },
        ],
      }),
    );
    expect(t("spiffe://partner.example/agent/vip")).toBe("vip-agent");
    expect(t("spiffe://partner.example/agent/other")).toBe("pa:other");
  });

  it("a map rule with trust_domain ignores IDs of other trust domains", () => {
    const t = compileTranslation(
      seg({
        identity_translation: [
          {
            map_file: "/x/ids.yaml",
            trust_domain: "partner.example",
            ids: ids({ "spiffe://other.example/agent/a": "a" }),
          },
        ],
      }),
    );
    expect(t("spiffe://other.example/agent/a")).toBeUndefined();
  });

  it("adversarial: map lookups are exact and do not see Object.prototype", () => {
    const t = compileTranslation(
      seg({ identity_translation: [{ map_file: "/x", ids: ids({ "spiffe://p.example/a": "a" }) }] }),
    );
    expect(t("spiffe://p.example/A")).toBeUndefined();
    expect(t("spiffe://p.example/a/b")).toBeUndefined();
    expect(t("spiffe://p.example/constructor")).toBeUndefined();
    expect(t("spiffe://p.example/__proto__")).toBeUndefined();
  });

  it("no rule: a local workload ID is its own local_id, a foreign one has none", () => {
    const t = compileTranslation(seg({ local_trust_domain: "corp.example" }));
    expect(t("spiffe://corp.example/agent/planner")).toBe("spiffe://corp.example/agent/planner");
    expect(t("spiffe://partner.example/agent/planner")).toBeUndefined();
  });

  it("non-URI subjects (users, clients of the segment's own issuer) are already local", () => {
    const t = compileTranslation(seg({ local_trust_domain: "corp.example" }));
    expect(t("alice")).toBe("alice");
    expect(t("user:alice")).toBe("user:alice");
  });

  it("the local trust domain defaults to the single tls.trust_domains entry, else there is none", () => {
    expect(localTrustDomain(seg({ trust_domains: ["corp.example"] }))).toBe("corp.example");
    expect(localTrustDomain(seg({ trust_domains: ["a.example", "b.example"] }))).toBeUndefined();
    expect(
      localTrustDomain(seg({ trust_domains: ["a.example", "b.example"], local_trust_domain: "b.example" })),
    ).toBe("b.example");
    const t = compileTranslation(seg({ trust_domains: ["a.example", "b.example"] }));
    expect(t("spiffe://a.example/x")).toBeUndefined();
  });

  it("a translation rule beats the local default (aliasing a local ID is allowed)", () => {
    const t = compileTranslation(
      seg({
        local_trust_domain: "corp.example",
        identity_translation: [
          { pattern: "spiffe://corp.example/legacy/*", local_id: "svc:{1}", trust_domain: "corp.example" },
        ],
      }),
    );
    expect(t("spiffe://corp.example/legacy/billing")).toBe("svc:billing");
  });
});

function configIssues(segmentYaml: string, files: Record<string, string> = {}): ConfigIssue[] {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  try {
    parseConfig(yaml(segmentYaml), join(dir, "gw.yaml"));
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).errors;
  }
  throw new Error("config was accepted");
}

const yaml = (extra: string) => `
pdp: { policies: . }
segments:
  - name: s
    listen: 127.0.0.1:0
    upstream: http://127.0.0.1:9001
    tls: { cert: gw.pem, key: gw.key, client_ca: ca.pem, trust_domains: [corp.example, partner.example] }
    authentication: mtls
${extra}`;

describe("config: identity_translation", () => {
  it("loads pattern rules and map files (entries read at load time)", () => {
    writeFileSync(
      join(dir, "ids.yaml"),
      '"spiffe://partner.example/agent/a": partner-a\n"spiffe://partner.example/agent/b": partner-b\n',
    );
    const c = parseConfig(
      yaml(`    local_trust_domain: corp.example
    identity_translation:
      - { pattern: "spiffe://partner.example/agent/*", local_id: "partner-agent:{1}" }
      - { trust_domain: partner.example, map_file: ids.yaml }
`),
      join(dir, "gw.yaml"),
    );
    const s = c.segments[0]!;
    expect(s.local_trust_domain).toBe("corp.example");
    expect(s.identity_translation![0]).toEqual({
      pattern: "spiffe://partner.example/agent/*",
      local_id: "partner-agent:{1}",
      trust_domain: "partner.example",
    });
    const m = s.identity_translation![1]!;
    expect("ids" in m && { ...m.ids }).toEqual({
      "spiffe://partner.example/agent/a": "partner-a",
      "spiffe://partner.example/agent/b": "partner-b",
    });
    const t = compileTranslation(s);
    expect(t("spiffe://partner.example/agent/z")).toBe("partner-agent:z");
  });

  it("a segment without identity_translation has none (and no local_trust_domain)", () => {
    const s = parseConfig(yaml(""), join(dir, "gw.yaml")).segments[0]!;
    expect(s.identity_translation).toBeUndefined();
    expect(s.local_trust_domain).toBeUndefined();
  });

  it("names the key path of a bad pattern, template or trust domain", () => {
    const errs = configIssues(`    identity_translation:
      - { pattern: "spiffe://*.example/a/*", local_id: "x:{1}" }
      - { pattern: "spiffe://partner.example/a/*", local_id: "x:{3}" }
      - { pattern: "spiffe://partner.example/a/*", local_id: "x:{1}", trust_domain: corp.example }
      - { local_id: "x" }
      - { pattern: "spiffe://partner.example/a/*", local_id: "x", map_file: ids.yaml }
      - { pattern: "spiffe://partner.example/a/*", locl_id: "x" }
`);
    const at = (p: string) => errs.find((e) => e.path === p)?.message;
    expect(at("segments[0].identity_translation[0].pattern")).toMatch(/trust domain must be literal/);
    expect(at("segments[0].identity_translation[1].local_id")).toMatch(/placeholder \{3\}/);
    expect(at("segments[0].identity_translation[2].trust_domain")).toMatch(/partner\.example/);
    expect(at("segments[0].identity_translation[3]")).toMatch(/exactly one of pattern/);
    expect(at("segments[0].identity_translation[4]")).toMatch(/exactly one of pattern/);
    expect(at("segments[0].identity_translation[5].locl_id")).toMatch(/did you mean "local_id"/);
    expect(errs.every((e) => e.file === join(dir, "gw.yaml") && e.line !== undefined)).toBe(true);
  });

  it("map file errors name the map file, the ID and its line", () => {
    const errs = configIssues(
      `    identity_translation:
      - { trust_domain: partner.example, map_file: bad-ids.yaml }
`,
      {
        "bad-ids.yaml": [
          '"spiffe://partner.example/agent/a": ok',
          '"spiffe://corp.example/admin": sneaky',
          '"spiffe://partner.example/agent/../x": y',
          '"spiffe://partner.example/agent/c": ""',
          '"spiffe://partner.example/agent/d": [list]',
        ].join("\n"),
      },
    );
    const file = join(dir, "bad-ids.yaml");
    expect(errs.every((e) => e.file === file)).toBe(true);
    expect(errs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          path: "spiffe://corp.example/admin",
          line: 2,
          message: expect.stringMatching(/not in trust domain partner\.example/),
        }),
        expect.objectContaining({ path: "spiffe://partner.example/agent/../x", line: 3 }),
        expect.objectContaining({ path: "spiffe://partner.example/agent/c", line: 4 }),
        expect.objectContaining({ path: "spiffe://partner.example/agent/d", line: 5 }),
      ]),
    );
    expect(errs).toHaveLength(4);
  });

  it("a map file with a duplicate ID, not a mapping, or missing is an error", () => {
    const dup = configIssues(`    identity_translation: [ { map_file: dup.yaml } ]\n`, {
      "dup.yaml": '"spiffe://p.example/a": x\n"spiffe://p.example/a": y\n',
    });
    expect(dup[0]).toMatchObject({ file: join(dir, "dup.yaml"), line: 2 });
    const list = configIssues(`    identity_translation: [ { map_file: list.yaml } ]\n`, {
      "list.yaml": "- spiffe://p.example/a\n",
    });
    expect(list[0]).toMatchObject({
      file: join(dir, "list.yaml"),
      message: expect.stringMatching(/mapping/),
    });
    const missing = configIssues(`    identity_translation: [ { map_file: nope.yaml } ]\n`);
    expect(missing[0]).toMatchObject({
      path: "segments[0].identity_translation[0].map_file",
      message: expect.stringMatching(/file not found/),
    });
  });

  it("local_trust_domain must be a trust domain name", () => {
    const errs = configIssues(`    local_trust_domain: "Corp.Example"\n`);
    expect(errs[0]).toMatchObject({ path: "segments[0].local_trust_domain" });
  });
});
