// The public tunnel's state machine: closed → opening → open | error, and back to closed.
// It owns the ngrok listener of this process; a failure to reach ngrok becomes the `error`
// state with a reason, never an exception that could stop the server.
import type { TTunnelState } from "@postern/contracts";
import type { Actor } from "../audit/audit.service";

/** What ngrok's `forward()` gives back, reduced to what the manager uses. */
export interface TunnelListener {
  url(): string | null;
  close(): Promise<void>;
}

export interface ForwardOptions {
  /** host:port of this Postern process. */
  addr: string;
  authtoken: string;
  domain?: string;
  /** host:port of the ngrok ingress to dial; the library's default when absent. */
  serverAddr?: string;
  /** ngrok reports "connected" / "closed" as its session comes and goes. */
  onStatusChange: (status: string) => void;
}

export type Forwarder = (options: ForwardOptions) => Promise<TunnelListener>;

/** The real one: `@ngrok/ngrok`, loaded on first use so its native binary only loads when needed. */
export const ngrokForwarder: Forwarder = async ({ addr, authtoken, domain, serverAddr, onStatusChange }) => {
  const ngrok = await import("@ngrok/ngrok");
  const forward = ngrok.forward ?? (ngrok as unknown as { default: typeof ngrok }).default.forward;
  return forward({ addr, authtoken, ...(domain ? { domain } : {}), ...(serverAddr ? { server_addr: serverAddr } : {}), onStatusChange });
};

export interface TunnelSnapshot {
  state: TTunnelState;
  url?: string;
  reason?: string;
  changedAt: Date;
}

/** Who asked: an admin or token (with their address), or null actor for Postern itself. */
export interface TunnelCaller {
  actor: Actor | null;
  sourceIp?: string;
}

const SYSTEM: TunnelCaller = { actor: null };

export interface TunnelTransition {
  caller: TunnelCaller;
  snapshot: TunnelSnapshot;
  details?: Record<string, unknown>;
}

export interface TunnelManagerOptions {
  authtoken?: string;
  domain?: string;
  serverAddr?: string;
  /** Where ngrok forwards to, asked at open time (the listening port may be chosen by the OS). */
  addr: () => string | Promise<string>;
  forward?: Forwarder;
  /** How long to wait for ngrok before giving up. */
  timeoutMs?: number;
  now?: () => Date;
  /** Audits and announces a transition; awaited so a caller sees its audit event written. */
  onTransition: (transition: TunnelTransition) => Promise<void>;
}

export class TunnelNotConfiguredError extends Error {}

export const DEFAULT_TUNNEL_TIMEOUT_MS = 15_000;

export class TunnelManager {
  private current: TunnelSnapshot;
  private listener: TunnelListener | undefined;
  private opening: Promise<TunnelSnapshot> | undefined;
  private forward: Forwarder;
  private readonly now: () => Date;

  constructor(private readonly options: TunnelManagerOptions) {
    this.now = options.now ?? (() => new Date());
    this.forward = options.forward ?? ngrokForwarder;
    this.current = { state: "closed", changedAt: this.now() };
  }

  get configured(): boolean {
    return Boolean(this.options.authtoken);
  }

  get domain(): string | undefined {
    return this.options.domain;
  }

  snapshot(): TunnelSnapshot {
    return { ...this.current };
  }

  /** The public URL while the tunnel is open. */
  url(): string | undefined {
    return this.current.state === "open" ? this.current.url : undefined;
  }

  /**
   * Replaces how the tunnel connects. Tests use it for the success path, because ngrok's cloud
   * cannot be reached from CI; production always uses `ngrokForwarder`.
   */
  useForwarder(forward: Forwarder): void {
    this.forward = forward;
  }

  /** Opens the tunnel, or joins an opening already under way. Resolves with the new state
   * (`open` or `error`); rejects only when no authtoken is configured. */
  async open(caller: TunnelCaller = SYSTEM): Promise<TunnelSnapshot> {
    if (this.current.state === "open") return this.snapshot();
    if (this.opening) return this.opening;
    const authtoken = this.options.authtoken;
    if (!authtoken) throw new TunnelNotConfiguredError("the tunnel needs NGROK_AUTHTOKEN (get one at https://dashboard.ngrok.com)");
    this.opening = this.connect(authtoken, caller).finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  /** Closes the tunnel (after any opening under way has settled). */
  async close(caller: TunnelCaller = SYSTEM): Promise<TunnelSnapshot> {
    if (this.opening) await this.opening;
    if (this.current.state === "closed") return this.snapshot();
    const listener = this.listener;
    this.listener = undefined;
    let details: Record<string, unknown> | undefined = this.current.url ? { url: this.current.url } : undefined;
    if (listener) {
      try {
        await listener.close();
      } catch (err) {
        // The listener is gone either way; say so in the audit instead of failing the close.
        details = { ...details, closeError: messageOf(err, this.options.authtoken) };
      }
    }
    await this.move({ state: "closed" }, caller, details);
    return this.snapshot();
  }

  private async connect(authtoken: string, caller: TunnelCaller): Promise<TunnelSnapshot> {
    await this.move({ state: "opening" }, caller);
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TUNNEL_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    // Through a promise, so a forwarder that throws at once fails like one that rejects.
    const attempt = Promise.resolve().then(async () =>
      this.forward({
        addr: await this.options.addr(),
        authtoken,
        domain: this.options.domain,
        serverAddr: this.options.serverAddr,
        onStatusChange: (status) => void this.sessionStatus(status),
      }),
    );
    try {
      const listener = await Promise.race([
        attempt,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`ngrok did not answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
        }),
      ]);
      const url = listener.url();
      if (!url) {
        await listener.close().catch(() => undefined);
        throw new Error("ngrok opened a listener without a URL");
      }
      this.listener = listener;
      await this.move({ state: "open", url }, caller, { url, domain: this.options.domain });
    } catch (err) {
      // A listener that arrives after the timeout must not stay open behind our back.
      attempt.then((late) => late.close()).catch(() => undefined);
      const reason = `could not open the ngrok tunnel: ${messageOf(err, authtoken)}`;
      await this.move({ state: "error", reason }, caller, { reason, domain: this.options.domain });
    } finally {
      clearTimeout(timer);
    }
    return this.snapshot();
  }

  /** ngrok's session dropping and coming back while the listener stays ours. */
  private async sessionStatus(status: string): Promise<void> {
    if (!this.listener) return;
    if (status === "closed" && this.current.state === "open") {
      const reason = "the ngrok session was lost; ngrok keeps trying to reconnect";
      await this.move({ state: "error", reason, url: this.current.url }, SYSTEM, { reason });
    } else if (status === "connected" && this.current.state === "error") {
      const url = this.listener.url() ?? this.current.url;
      if (url) await this.move({ state: "open", url }, SYSTEM, { url, reconnected: true });
    }
  }

  private async move(
    next: Omit<TunnelSnapshot, "changedAt">,
    caller: TunnelCaller,
    details?: Record<string, unknown>,
  ): Promise<void> {
    this.current = { ...next, changedAt: this.now() };
    await this.options.onTransition({ caller, snapshot: this.snapshot(), details });
  }
}

/** ngrok's refusal of a bad or revoked authtoken quotes it ("Your authtoken: …"); the reason goes
 * to the logs, the audit trail (for good) and every browser's board, so it never carries one. */
function withoutAuthtoken(message: string, authtoken: string | undefined): string {
  const quoted = message.replace(/(authtoken:\s*)\S+/gi, "$1***");
  return authtoken && authtoken.length >= 4 ? quoted.split(authtoken).join("***") : quoted;
}

function messageOf(err: unknown, authtoken?: string): string {
  const message = withoutAuthtoken(err instanceof Error ? err.message : String(err), authtoken);
  const code = (err as { code?: unknown } | null)?.code;
  // ngrok's own error codes (ERR_NGROK_105: bad authtoken, …) are what its docs index by.
  return typeof code === "string" && code.startsWith("ERR_NGROK") ? `${message} (${code})` : message;
}
