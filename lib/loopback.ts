// "Plain http is allowed on loopback only" is a rule of several configs; one definition of loopback.
import { isIP } from "node:net";

/** localhost, ::1 (with or without URL brackets) or an IPv4 address in 127.0.0.0/8. */
export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return h === "localhost" || h === "::1" || (isIP(h) === 4 && h.startsWith("127."));
}
