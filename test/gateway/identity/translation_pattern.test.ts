// Pattern rules of identity_translation: the syntax the config loader checks (with the exact messages it
// reports under the rule's key path), and the matching and rendering identifier translation runs.
import { describe, expect, it } from "vitest";
import {
  compilePattern,
  matchPattern,
  renderTemplate,
} from "../../../gateway/identity/translation_pattern.js";
import { parseWorkloadId, type WorkloadId } from "../../../gateway/identity/workload_id.js";

function id(s: string): WorkloadId {
  const parsed = parseWorkloadId(s);
  if (!parsed) throw new Error(`not a workload ID: ${s}`);
  return parsed;
}

describe("compilePattern", () => {
  it.each([
    [
      "spiffe://*.example/agent/*",
      "x",
      'pattern trust domain must be literal (a-z 0-9 . - _), got "*.example"',
    ],
    [
      "spiffe://partner.example/a*/b",
      "x",
      'pattern segment "a*" must be *, a final **, or A-Z a-z 0-9 . - _',
    ],
    [
      "spiffe://partner.example/**/a",
      "x",
      'pattern segment "**" must be *, a final **, or A-Z a-z 0-9 . - _',
    ],
    [
      "spiffe://partner.example/../a",
      "x",
      'pattern segment ".." must be *, a final **, or A-Z a-z 0-9 . - _',
    ],
    ["spiffe://partner.example", "x", "pattern needs a path (a workload ID has one)"],
    ["https://partner.example/a", "x", "pattern must be spiffe://<trust-domain>/<path> or wimse://…"],
    [
      "spiffe://partner.example/(a|b)",
      "x",
      'pattern segment "(a|b)" must be *, a final **, or A-Z a-z 0-9 . - _',
    ],
    [
      "spiffe://partner.example/a/*",
      "x:{2}",
      "local_id placeholder {2} has no wildcard (the pattern has 1: {1}..{1})",
    ],
    [
      "spiffe://partner.example/a/*",
      "x:{0}",
      "local_id placeholder {0} has no wildcard (the pattern has 1: {1}..{1})",
    ],
    ["spiffe://partner.example/a/*", "x:{1", 'local_id may use braces only as "{N}" placeholders'],
    ["spiffe://partner.example/a/*", "x:{name}", 'local_id may use braces only as "{N}" placeholders'],
    ["spiffe://partner.example/a/*", "", "local_id must not be empty"],
    ["spiffe://partner.example/a/*", "x\n{1}", "local_id must not contain control characters"],
  ])("rejects pattern %s with local_id %j", (pattern, localId, message) => {
    expect(() => compilePattern(pattern, localId)).toThrow(new Error(message));
  });

  it("splits a pattern into its trust domain, segments, final ** and template", () => {
    expect(compilePattern("wimse://partner.example/agent/*/**", "p:{1}:{2}")).toEqual({
      scheme: "wimse",
      trustDomain: "partner.example",
      segments: ["agent", "*"],
      deep: true,
      template: ["p:", 1, ":", 2],
      wildcards: 2,
    });
  });
});

describe("matchPattern and renderTemplate", () => {
  const p = compilePattern("spiffe://partner.example/agent/*/**", "partner:{1}/{2}");

  it("captures one segment per * and one or more joined by / for the final **", () => {
    const captures = matchPattern(p, id("spiffe://partner.example/agent/x/a/b"));
    expect(captures).toEqual(["x", "a/b"]);
    expect(renderTemplate(p.template, captures!)).toBe("partner:x/a/b");
  });

  it("adversarial: another scheme, trust domain, literal or too few segments does not match", () => {
    for (const s of [
      "wimse://partner.example/agent/x/a",
      "spiffe://partner.example.evil/agent/x/a",
      "spiffe://partner.example/Agent/x/a",
      "spiffe://partner.example/agent/x",
    ]) {
      expect(matchPattern(p, id(s)), s).toBeUndefined();
    }
  });
});
