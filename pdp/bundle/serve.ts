// `GET /bundles/{name}`: the PDP as a bundle server for remote PEPs and other PDPs, speaking what
// OPA's downloader expects — a gzipped tarball with a strong ETag, `If-None-Match` → 304, and long
// polling: a request whose ETag is current and that carries `Prefer: wait=N` is held until the bundle
// changes (or N seconds, at most 300, pass), and answers carry
// `Content-Type: application/vnd.openpolicyagent.bundles` to say long polling is supported.
import type { IncomingMessage, ServerResponse } from "node:http";
import { LONG_POLL_CONTENT_TYPE } from "./http_poller.js";
import type { BundleManager, ServedBundle } from "./manager.js";

/** The bundles a PDP serves and reports, by name. */
export interface BundleRegistry {
  get(name: string): BundleManager | undefined;
  all(): BundleManager[];
}

export const MAX_LONG_POLL_S = 300;

/** `If-None-Match` matches `etag` (weak comparison, `*` matches anything). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const bare = (t: string) => t.trim().replace(/^W\//, "");
  return header.split(",").some((t) => t.trim() === "*" || bare(t) === bare(etag));
}

/** The `wait` preference in seconds (RFC 7240), or undefined. */
export function preferWait(header: string | undefined): number | undefined {
  const m = /(?:^|[;,\s])wait=(\d{1,6})(?:$|[;,\s])/i.exec(header ?? "");
  return m ? Number(m[1]) : undefined;
}

function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body?: Buffer | string,
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, headers);
  res.end(body);
}

function sendBundle(res: ServerResponse, s: ServedBundle, longPoll: boolean): void {
  send(
    res,
    200,
    {
      "content-type": longPoll ? LONG_POLL_CONTENT_TYPE : "application/gzip",
      "content-length": String(s.archive.length),
      etag: s.etag,
      "cache-control": "no-cache",
    },
    s.archive,
  );
}

function notModified(res: ServerResponse, s: ServedBundle, longPoll: boolean): void {
  send(res, 304, {
    etag: s.etag,
    "cache-control": "no-cache",
    ...(longPoll ? { "content-type": LONG_POLL_CONTENT_TYPE } : {}),
  });
}

/**
 * Answers `GET /bundles/{name}`. Returns false, having written nothing, when no bundle of that name
 * is configured (the caller answers 404 in its own error format).
 */
export async function serveBundle(
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  registry: BundleRegistry | undefined,
): Promise<boolean> {
  const m = registry?.get(name);
  if (!m) return false;
  const s = m.current();
  if (!s) {
    const body = JSON.stringify(
      { code: "resource_not_found", message: `bundle ${name} is not activated yet` },
      null,
      2,
    );
    send(res, 503, { "content-type": "application/json", "retry-after": "5" }, body + "\n");
    return true;
  }
  const inm = req.headers["if-none-match"];
  const prefer = req.headers.prefer;
  const wait = preferWait(Array.isArray(prefer) ? prefer.join(",") : prefer);
  const longPoll = wait !== undefined;
  if (!etagMatches(inm, s.etag)) {
    sendBundle(res, s, longPoll);
    return true;
  }
  if (!wait) {
    notModified(res, s, longPoll);
    return true;
  }
  const gone = new AbortController();
  res.once("close", () => gone.abort());
  await m.waitForChange(s.etag, Math.min(wait, MAX_LONG_POLL_S) * 1000, gone.signal);
  if (gone.signal.aborted) return true;
  const now = m.current()!;
  if (now.etag !== s.etag && !etagMatches(inm, now.etag)) sendBundle(res, now, true);
  else notModified(res, now, true);
  return true;
}

/** Bundle status entries for `GET /v1/status` (`result.bundles`). */
export function bundleStatuses(registry: BundleRegistry | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of registry?.all() ?? []) out[m.name] = m.status();
  return out;
}
