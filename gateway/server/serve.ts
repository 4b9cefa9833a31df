// Starts one HTTPS listener per segment. The policy comes in compiled: loading it is the caller's job, so
// a policy error is a start-up error, reported before any port opens.
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Config, Segment } from "../config/index.js";
import { createSegmentApp, type Logger } from "./app.js";
import type { Pdp } from "./enforce.js";
import { peerFromSocket, tlsServerOptions } from "./tls.js";

export interface RunningSegment {
  segment: Segment;
  server: Server;
  /** The bound port (differs from the config's when it asked for port 0). */
  port: number;
  /** Re-reads cert, key and trust bundles; new handshakes use them, open connections keep theirs. */
  reload(): void;
}

export interface RunningGateway {
  segments: RunningSegment[];
  close(): Promise<void>;
}

export async function startSegment(segment: Segment, pdp: Pdp, log?: Logger): Promise<RunningSegment> {
  const app = createSegmentApp({ segment, pdp, log });
  const server = createServer(
    { ...tlsServerOptions(segment.tls), maxHeaderSize: Math.max(segment.limits.max_header_bytes, 1024) },
    app,
  );
  if (segment.tls.client_auth === "require") {
    // A chain-valid certificate that is not an SVID (a CA, two URI SANs, a foreign trust domain) is
    // refused before any request is read from the connection.
    server.on("secureConnection", (socket: TLSSocket) => {
      const peer = peerFromSocket(socket, segment.tls.trust_domains);
      if (typeof peer === "string") socket.destroy();
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(segment.port, segment.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    segment,
    server,
    port: (server.address() as AddressInfo).port,
    reload: () => server.setSecureContext(tlsServerOptions(segment.tls)),
  };
}

export async function startGateway(config: Config, pdp: Pdp, log?: Logger): Promise<RunningGateway> {
  const segments: RunningSegment[] = [];
  try {
    for (const s of config.segments) segments.push(await startSegment(s, pdp, log));
  } catch (e) {
    await Promise.all(segments.map((r) => closeServer(r.server)));
    throw e;
  }
  return {
    segments,
    close: () => Promise.all(segments.map((r) => closeServer(r.server))).then(() => undefined),
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
