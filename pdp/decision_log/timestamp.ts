// Event times: nanoseconds since the epoch and OPA's RFC 3339 form (Go's RFC3339Nano, UTC).

let originNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/**
 * The wall-clock time in nanoseconds. The monotonic clock gives the digits below a millisecond; the
 * origin is re-anchored when the wall clock moved (NTP, a suspended VM), so times never drift far.
 */
export function nowNs(): bigint {
  const hr = process.hrtime.bigint();
  const wallMs = Date.now();
  let ns = originNs + hr;
  if (Math.abs(Number(ns / 1_000_000n) - wallMs) > 100) {
    originNs = BigInt(wallMs) * 1_000_000n - hr;
    ns = originNs + hr;
  }
  return ns;
}

/** `2019-06-03T20:07:16.939402185Z`: trailing zeros of the fraction dropped, as Go's RFC3339Nano does. */
export function rfc3339Nano(ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  const frac = (((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n)
    .toString()
    .padStart(9, "0")
    .replace(/0+$/, "");
  return `${iso.slice(0, 19)}${frac === "" ? "" : "." + frac}Z`;
}
