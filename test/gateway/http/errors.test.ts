import { describe, expect, it } from "vitest";
import { errorResponse, invalidRequest, safeDescription } from "../../../gateway/http/errors.js";

describe("errorResponse", () => {
  it("renders a hygiene failure as an OAuth invalid_request body", () => {
    const r = errorResponse(invalidRequest("encoded slash in path"));
    expect(r.status).toBe(400);
    expect(r.headers).toEqual({
      "content-type": "application/json",
      "cache-control": "no-store",
      connection: "close",
    });
    expect(JSON.parse(r.body)).toEqual({
      error: "invalid_request",
      error_description: "encoded slash in path",
    });
  });

  it("keeps the size statuses", () => {
    expect(errorResponse(invalidRequest("too big", 431)).status).toBe(431);
    expect(errorResponse(invalidRequest("too big", 413)).status).toBe(413);
  });

  it("never leaks an internal error", () => {
    const r = errorResponse(new Error("ECONNREFUSED 10.1.2.3:5432 at db.ts:42"));
    expect(r.status).toBe(500);
    expect(r.body).not.toMatch(/10\.1\.2\.3|db\.ts/);
    expect(JSON.parse(r.body)).toEqual({ error: "server_error", error_description: "internal error" });
  });

  it("restricts error_description to the RFC 6749 character set", () => {
    expect(safeDescription('bad "x" \\ é\n')).toBe("bad ?x? ? ??");
    expect(safeDescription("x".repeat(500))).toHaveLength(200);
  });
});
