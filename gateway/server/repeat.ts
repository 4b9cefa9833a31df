// A keep-alive connection's last allowed request, for the next one that repeats its head byte for byte (an
// agent polling with the same token). What that head yielded — the normalised target, the authentication
// facts, the policy input, the decision-cache key, the upstream headers — is a function of the head, the
// connection and the authentication outcome, so the gate takes it from here instead of deriving it again.
// Nothing that can change between two identical requests is kept: the peer check, authentication and the
// decision run for every request (app.ts).
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";

interface Entry<T> {
  rawHeaders: readonly string[];
  method: string;
  url: string;
  httpVersion: string;
  value: T;
}

/**
 * Only GET and HEAD without a body: their head is all the gate reads, and http-proxy rewrites no header of
 * theirs (it sets `Content-Length: 0` on a body-less DELETE or OPTIONS), so a kept upstream header map
 * stays what the gate built.
 */
export function isRepeatable(req: IncomingMessage): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const h = req.headers;
  if (h["transfer-encoding"] !== undefined) return false;
  const length = h["content-length"];
  return length === undefined || length === "0";
}

function sameHead(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class RepeatMemo<T> {
  private readonly last = new WeakMap<TLSSocket, Entry<T>>();

  /** What `remember` kept for this connection's previous request, when `req` repeats its head exactly. */
  lookup(socket: TLSSocket, req: IncomingMessage): T | undefined {
    const e = this.last.get(socket);
    if (
      e === undefined ||
      e.url !== req.url ||
      e.method !== req.method ||
      e.httpVersion !== req.httpVersion ||
      !sameHead(e.rawHeaders, req.rawHeaders)
    ) {
      return undefined;
    }
    return e.value;
  }

  /** Keeps `value` for `req`'s connection, replacing the previous request's; the caller checked isRepeatable. */
  remember(socket: TLSSocket, req: IncomingMessage, value: T): void {
    this.last.set(socket, {
      rawHeaders: req.rawHeaders,
      method: req.method ?? "",
      url: req.url ?? "",
      httpVersion: req.httpVersion,
      value,
    });
  }
}
