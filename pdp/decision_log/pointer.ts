// JSON Pointers (RFC 6901), as OPA's mask rules use them to name members of an event.

/** The reference tokens of a pointer (`/input/a~1b` → ["input", "a/b"]); undefined when malformed. */
export function parsePointer(pointer: string): string[] | undefined {
  if (!pointer.startsWith("/")) return undefined;
  const out: string[] = [];
  for (const raw of pointer.slice(1).split("/")) {
    // `~` must be followed by 0 or 1; anything else is not a pointer.
    if (/~(?![01])/.test(raw)) return undefined;
    out.push(raw.replace(/~1/g, "/").replace(/~0/g, "~"));
  }
  return out;
}

/** The pointer of `tokens` (the inverse of parsePointer). */
export function formatPointer(tokens: readonly (string | number)[]): string {
  let s = "";
  for (const t of tokens) s += "/" + String(t).replace(/~/g, "~0").replace(/\//g, "~1");
  return s;
}
