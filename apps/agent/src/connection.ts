// The agent's outbound websocket to the API (so it works behind NAT): hello, rules in, reports
// out, heartbeats, and reconnection with backoff. Losing the link changes nothing on the
// firewall: the rules stay until their own expiry and are reconciled on the next connect.
import WebSocket from "ws";
import type { Logger } from "pino";
import { z } from "zod";
import { ZGatewayRule, ZServerToAgentMessage, type TAgentMessage, type TGatewayRule } from "@postern/contracts";
import { agentSocketUrl } from "./config";

/** Three missed pings from the API (sent every 15 s) mean the link is dead. */
const SILENCE_MS = 45_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/** A rules message read leniently: each rule on its own, so one the agent cannot read (an API
 * newer than the agent, say) costs that rule only, and is reported back, not the whole set. */
const ZRulesEnvelope = z.object({
  type: z.literal("rules"),
  version: z.number().int(),
  rules: z.array(z.unknown()),
  now: z.string().optional(),
});

export interface RulesUpdate {
  rules: TGatewayRule[];
  version: number;
  /** The API's time when it sent them. */
  now?: string;
  /** Why each unreadable rule was left out. */
  invalid: string[];
}

export function readRules(envelope: z.infer<typeof ZRulesEnvelope>): RulesUpdate {
  const rules: TGatewayRule[] = [];
  const invalid: string[] = [];
  envelope.rules.forEach((raw, i) => {
    const parsed = ZGatewayRule.safeParse(raw);
    if (parsed.success) return void rules.push(parsed.data);
    const issue = parsed.error.issues[0];
    const session = (raw as { sessionId?: unknown } | null)?.sessionId;
    const which = typeof session === "string" ? `session ${session.slice(0, 40)}` : `rule ${i}`;
    invalid.push(`${which}: cannot read ${issue?.path.join(".") || "the rule"}: ${issue?.message ?? "invalid"}`);
  });
  return { rules, version: envelope.version, now: envelope.now, invalid };
}

export interface ConnectionOptions {
  url: string;
  token: string;
  name: string;
  driver: string;
  version: string;
  log: Logger;
  onRules(update: RulesUpdate): void;
  /** The API's time, as every ping carries it. */
  onServerTime?(now: string): void;
  onConnected?(agentId: string): void;
}

export class AgentConnection {
  private socket: WebSocket | undefined;
  private retry: NodeJS.Timeout | undefined;
  private silence: NodeJS.Timeout | undefined;
  private backoff = BACKOFF_MIN_MS;
  private stopped = false;

  constructor(private readonly opts: ConnectionOptions) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  send(message: TAgentMessage): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    clearTimeout(this.silence);
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once("close", () => resolve());
      socket.close(1000, "agent stopping");
      setTimeout(() => {
        socket.terminate();
        resolve();
      }, 2000).unref();
    });
  }

  private open(): void {
    const { log } = this.opts;
    const url = agentSocketUrl(this.opts.url);
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${this.opts.token}` }, handshakeTimeout: 10_000 });
    this.socket = socket;
    socket.on("open", () => {
      log.info({ url }, "connected to the API");
      this.send({ type: "hello", name: this.opts.name, driver: this.opts.driver, version: this.opts.version });
      this.heard();
    });
    socket.on("message", (data) => {
      this.heard();
      let raw: unknown;
      try {
        raw = JSON.parse(data.toString());
      } catch {
        log.warn("ignoring a message that is not JSON");
        return;
      }
      const rules = ZRulesEnvelope.safeParse(raw);
      if (rules.success) {
        const update = readRules(rules.data);
        if (update.invalid.length) log.warn({ invalid: update.invalid }, "left out rules the agent cannot read");
        this.opts.onRules(update);
        return;
      }
      const parsed = ZServerToAgentMessage.safeParse(raw);
      if (!parsed.success) {
        log.warn({ err: parsed.error.issues[0]?.message }, "ignoring a message the agent does not understand");
        return;
      }
      const message = parsed.data;
      switch (message.type) {
        case "welcome":
          this.backoff = BACKOFF_MIN_MS;
          log.info({ agentId: message.agentId, name: message.name }, "registered with the API");
          this.opts.onConnected?.(message.agentId);
          break;
        case "ping":
          this.send({ type: "pong" });
          if (message.now) this.opts.onServerTime?.(message.now);
          break;
        case "error":
          log.error({ reason: message.message }, "the API refused the agent");
          break;
      }
    });
    socket.on("unexpected-response", (_req, res) => {
      const hint =
        res.statusCode === 401
          ? "the token is invalid, expired or revoked (POSTERN_AGENT_TOKEN)"
          : res.statusCode === 403
            ? "the token lacks the scope agent"
            : res.statusCode === 404
              ? "no /api/agent here: check POSTERN_AGENT_URL"
              : `HTTP ${res.statusCode}`;
      log.error({ url, status: res.statusCode }, `the API rejected the connection: ${hint}`);
      res.resume();
      socket.terminate();
    });
    socket.on("error", (err) => log.warn({ err: err.message }, "API connection error"));
    socket.on("close", (code, reason) => {
      clearTimeout(this.silence);
      if (this.stopped) return;
      const delay = Math.round(this.backoff * (0.5 + Math.random() / 2));
      this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2);
      log.warn({ code, reason: reason.toString(), retryInMs: delay }, "API connection closed; reconnecting");
      this.retry = setTimeout(() => this.open(), delay);
    });
  }

  private heard(): void {
    clearTimeout(this.silence);
    this.silence = setTimeout(() => {
      this.opts.log.warn("no word from the API for 45 s; reconnecting");
      this.socket?.terminate();
    }, SILENCE_MS);
  }
}
