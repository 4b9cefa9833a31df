// Readiness and bundle status. `GET /health` is ready (200 `{}`) only while a policy revision is
// loaded; OPA's `?bundles` / `?plugins` parameters ask the same question here, since the policy
// source is the only "bundle" and there are no other plugins. `GET /v1/status` reports the active
// revision the way OPA's status API reports bundles.
import type { IncomingMessage, ServerResponse } from "node:http";
import { bundleStatuses } from "../bundle/serve.js";
import type { PdpContext } from "./context.js";
import { sendJSON } from "./respond.js";

export function handleHealth(
  _req: IncomingMessage,
  res: ServerResponse,
  q: URLSearchParams,
  ctx: PdpContext,
): void {
  const active = ctx.store.current();
  if (!active) {
    // OPA answers an unready health check with 500; 503 says "not yet", which probes and load
    // balancers treat the same way and operators read correctly.
    const what =
      q.has("bundles") || q.has("bundle")
        ? "one or more bundles are not activated"
        : "no policy revision is loaded";
    res.setHeader("retry-after", "1");
    sendJSON(res, 503, { error: what });
    return;
  }
  sendJSON(res, 200, {});
}

export function handleStatus(
  _req: IncomingMessage,
  res: ServerResponse,
  q: URLSearchParams,
  ctx: PdpContext,
): void {
  const active = ctx.store.current();
  const bundles: Record<string, unknown> = {};
  if (active) {
    bundles[active.name] = {
      name: active.name,
      active_revision: active.revision,
      last_successful_activation: active.activatedAt.toISOString(),
      source: active.source,
    };
  }
  // Configured bundles report their own status: downloads, activation, the last error.
  Object.assign(bundles, bundleStatuses(ctx.bundles));
  sendJSON(
    res,
    200,
    { result: { labels: { id: ctx.instanceId, version: ctx.version }, bundles } },
    q.has("pretty"),
  );
}
