// Delivers queued relay messages by SMTP (nodemailer), one at a time, with exponential backoff
// while the mail server is down or defers a recipient. Runs in every API instance; leases keep
// them from sending the same message twice (see relay.service.ts).
import type { SendMailOptions, Transporter } from "nodemailer";
import type { Message } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import { claimMessage, dueWhere, recordAttempt } from "./relay.service";
import { outcomeOfError, outcomeOfSent, waitingRecipients, type AttemptOutcome } from "./relay.recipients";
import type { RelaySettings } from "./relay.settings";
import { SerialPoller } from "@postern/runtime";

export interface RelayWorkerOptions {
  /** How long a claimed message stays reserved for one attempt; longer than any SMTP timeout. */
  leaseMs?: number;
  /** The longest sleep between looks at the queue (other instances' messages, expired leases). */
  idleMs?: number;
  /** Attempts before a message is marked failed. */
  maxAttempts?: number;
  /** The wait after the first failure; it doubles after each further one, up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface RelayWorkerHooks {
  onError(err: unknown): void;
}

type EnabledSettings = Extract<RelaySettings, { enabled: true }>;
type SentInfo = Parameters<typeof outcomeOfSent>[0] & { response?: string };

const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };
const INTERRUPTED = "the attempt was cut short by Postern shutting down; it is retried at once";

/** The wait before attempt `attempts + 1`, with ±20 % jitter so instances do not retry in step. */
export function retryDelayMs(attempts: number, base: number, max: number, random = Math.random): number {
  const exp = Math.min(max, base * 2 ** Math.max(0, attempts - 1));
  return Math.round(exp * (0.8 + 0.4 * random()));
}

function domainOf(address: string): string {
  const m = /@([^>\s]+)>?\s*$/.exec(address);
  return m?.[1] ?? "postern.invalid";
}

function firstLine(text: string, max = 78): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "")?.trim() ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The mail for one message, to `envelopeTo` (those still waiting for it) while its To: names
 * every recipient. Its Message-ID is stable, so a receiver can drop a duplicate. */
export function composeMail(m: Message, settings: EnabledSettings, envelopeTo = settings.to): SendMailOptions {
  const tag = m.severity === "info" ? "[Postern]" : `[Postern ${m.severity.toUpperCase()}]`;
  return {
    from: settings.from,
    to: settings.to,
    envelope: { from: settings.from, to: envelopeTo },
    subject: `${tag} ${m.subject ?? firstLine(m.message)}`,
    text: `${m.message}\n\n-- \nSent by the Postern monitoring relay (message ${m.id}, severity ${m.severity}, queued ${m.createdAt.toISOString()}).\n`,
    messageId: `<${m.id}@${domainOf(settings.from)}>`,
    priority: m.severity === "critical" ? "high" : "normal",
    headers: { "X-Postern-Message-Id": m.id, "X-Postern-Severity": m.severity },
  };
}

export class RelayWorker {
  private transport: Transporter | undefined;
  private readonly leaseMs: number;
  private readonly idleMs: number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly poller = new SerialPoller(() => this.tick());
  /** Aborted by stop(): it ends the attempt in progress, and any about to start. */
  private stopping = new AbortController();

  constructor(
    private readonly ctx: DbContext,
    private readonly settings: EnabledSettings,
    private readonly hooks: RelayWorkerHooks,
    options: RelayWorkerOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? 120_000;
    this.idleMs = options.idleMs ?? 5_000;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.baseDelayMs = options.baseDelayMs ?? 15_000;
    this.maxDelayMs = options.maxDelayMs ?? 30 * 60_000;
  }

  /** nodemailer is loaded on the first delivery: most installs never relay, and loading it is a tenth of start-up. */
  private async transportOf(): Promise<Transporter> {
    if (!this.transport) {
      const { default: nodemailer } = await import("nodemailer");
      this.transport = nodemailer.createTransport({ url: this.settings.smtpUrl, ...SMTP_TIMEOUTS });
    }
    return this.transport;
  }

  start(): void {
    if (this.stopping.signal.aborted) this.stopping = new AbortController();
    this.poller.start();
  }

  /** Looks at the queue now; call after queueing a message. */
  poke(): void {
    this.poller.poke();
  }

  /**
   * Cuts the attempt in progress short rather than wait for it: a server that stopped answering
   * would hold it for the socket timeout (30 s), past the shutdown deadline. The attempt is
   * recorded as one to retry at once, while the database is still open, and its lease given
   * back, so another instance takes the message without waiting for the lease to run out. (A
   * server cut off after it took the mail but before it said so may get it again; the stable
   * Message-ID lets it drop the copy.)
   */
  async stop(): Promise<void> {
    const stopped = this.poller.stop();
    this.stopping.abort();
    this.transport?.close();
    await stopped;
  }

  /** Delivers everything due; returns how long to sleep before looking again. */
  private async tick(): Promise<number> {
    try {
      while (this.poller.running) {
        const due = await this.ctx.db.message.findMany({
          where: dueWhere(this.ctx.now()),
          orderBy: { nextAttemptAt: "asc" },
          take: 10,
          select: { id: true },
        });
        if (due.length === 0) break;
        for (const { id } of due) {
          if (!this.poller.running) break;
          await this.deliver(id);
        }
      }
      const next = await this.ctx.db.message.findFirst({
        where: { status: "queued", OR: [{ lockedUntil: null }, { lockedUntil: { lt: this.ctx.now() } }] },
        orderBy: { nextAttemptAt: "asc" },
        select: { nextAttemptAt: true },
      });
      const wait = next ? next.nextAttemptAt.getTime() - this.ctx.now().getTime() : this.idleMs;
      return Math.min(this.idleMs, Math.max(10, wait));
    } catch (err) {
      this.hooks.onError(err);
      return 1000;
    }
  }

  private async deliver(id: string): Promise<void> {
    const claimed = await claimMessage(this.ctx, id, this.leaseMs);
    if (!claimed) return;
    const { row, lease } = claimed;
    const sendTo = waitingRecipients(this.settings.to, row);
    let outcome: AttemptOutcome = { delivered: [], missed: [] };
    let response: string | undefined;
    /** Cut short by stop(): an attempt that ended with the server's answer (taken or refused)
     * before stop() came counts as any other. */
    let interrupted = false;
    if (sendTo.length > 0) {
      try {
        const mail = { ...composeMail(row, this.settings, sendTo), signal: this.stopping.signal };
        const info = (await (await this.transportOf()).sendMail(mail)) as SentInfo;
        outcome = outcomeOfSent(info, sendTo);
        response = info.response;
      } catch (err) {
        interrupted = this.stopping.signal.aborted;
        outcome = outcomeOfError(interrupted ? new Error(INTERRUPTED) : err, sendTo);
      }
    }
    const policy = {
      to: this.settings.to,
      // Our own shutdown is no fault of the mail server's: no wait, and the attempt is not
      // counted, or an install restarted a few times while its mail server was slow would give
      // up on messages it never really tried.
      retryInMs: interrupted ? 0 : retryDelayMs(row.attempts, this.baseDelayMs, this.maxDelayMs),
      maxAttempts: this.maxAttempts,
      interrupted,
      response,
    };
    // Once the mail is out to someone, recording that must not be lost to a passing database
    // error, or the lease would run out and they would get it again.
    for (let attempt = 1; ; attempt++) {
      try {
        await recordAttempt(this.ctx, row, lease, outcome, policy);
        return;
      } catch (err) {
        if (outcome.delivered.length === 0 || attempt >= 5) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }
}
