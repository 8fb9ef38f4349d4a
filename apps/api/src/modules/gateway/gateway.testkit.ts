// Test helpers for the gateway: an agent token and a scripted agent websocket client.
import Fastify, { type FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import WebSocket from "ws";
import { openDatabase } from "@postern/db";
import serviceApp from "../../app";
import type { Config } from "../../config";
import { ZServerToAgentMessage, type TAgentMessage, type TServerToAgentMessage } from "@postern/contracts";
import { createApiToken } from "../tokens/tokens.service";

export async function createAgentToken(
  app: FastifyInstance,
  scopes: ("agent" | "sessions:read")[] = ["agent"],
  options: { userId?: string; expiresAt?: Date } = {},
): Promise<string> {
  const name = `agent-${Math.random().toString(36).slice(2, 8)}`;
  const { token } = await createApiToken(app.ctx, { actor: null }, { name, scopes, userId: options.userId ?? null, expiresAt: options.expiresAt });
  return token;
}

/** Listens on 127.0.0.1 (or `host`) on a free port and returns the base URL. */
export async function listen(app: FastifyInstance, host = "127.0.0.1"): Promise<string> {
  await app.listen({ host, port: 0 });
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("no address");
  return `http://${host}:${address.port}`;
}

type Msg<T extends TServerToAgentMessage["type"]> = Extract<TServerToAgentMessage, { type: T }>;

export class ScriptedAgent {
  readonly messages: TServerToAgentMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      this.messages.push(ZServerToAgentMessage.parse(JSON.parse(data.toString())));
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async connect(baseUrl: string, headers: Record<string, string>): Promise<ScriptedAgent> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/api/agent`, { headers });
    const agent = new ScriptedAgent(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
      socket.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return agent;
  }

  send(message: TAgentMessage | Record<string, unknown>): void {
    this.socket.send(JSON.stringify(message));
  }

  /** The next message of `type` after the `skip` already seen of that type. */
  async next<T extends TServerToAgentMessage["type"]>(type: T, predicate: (m: Msg<T>) => boolean = () => true, timeoutMs = 5000): Promise<Msg<T>> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      const found = this.messages.slice(seen).find((m): m is Msg<T> => m.type === type && predicate(m as Msg<T>));
      if (found) {
        this.messages.splice(this.messages.indexOf(found), 1);
        return found;
      }
      seen = 0;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} message within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** A second API instance on the same database, as behind a load balancer. */
export async function openSecondInstance(t: { url: string; config: Config }): Promise<FastifyInstance> {
  const opened = await openDatabase(t.url, { poolSize: 4 });
  const app = Fastify({ logger: false });
  await app.register(fp(serviceApp), { config: t.config, database: opened, secret: t.config.secret ?? "" });
  app.addHook("onClose", async () => opened.close());
  await app.ready();
  return app;
}
