// Challenge-response sessions of the reference verifier: an unguessable id, the nonce, an expiry,
// and the state (`waiting` → `complete` | `failed`). Bounded: expired sessions are purged, and a
// full table refuses new sessions (503) instead of dropping ones in use.
import { randomBytes } from "node:crypto";

export type SessionState = "waiting" | "processing" | "complete" | "failed";

export interface Session {
  id: string;
  /** Standard base64, as Veraison's API carries it. */
  nonce: string;
  expiresMs: number;
  state: SessionState;
  evidence?: { type: string; value: string };
  result?: string;
}

export class SessionTable {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Undefined when the table is full. */
  create(nonce: Buffer): Session | undefined {
    if (this.sessions.size >= this.max) this.purge();
    if (this.sessions.size >= this.max) return undefined;
    const s: Session = {
      id: randomBytes(16).toString("hex"),
      nonce: nonce.toString("base64"),
      expiresMs: this.now() + this.ttlMs,
      state: "waiting",
    };
    this.sessions.set(s.id, s);
    return s;
  }

  get(id: string): Session | undefined {
    const s = this.sessions.get(id);
    if (s && this.now() > s.expiresMs) {
      this.sessions.delete(id);
      return undefined;
    }
    return s;
  }

  delete(id: string): boolean {
    return this.sessions.delete(id);
  }

  private purge(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) {
      if (s.expiresMs >= now) break;
      this.sessions.delete(id);
    }
  }
}
