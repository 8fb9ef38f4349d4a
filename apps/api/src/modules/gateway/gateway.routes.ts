// `GET /api/agent`: the websocket gateway agents dial (token scope `agent`); `GET /api/agents`:
// the admin view of every agent with its desired rules.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { WebSocket } from "ws";
import { z } from "zod";
import { ZAgent, ZAgentMessage, type TServerToAgentMessage } from "@postern/contracts";
import { AppError } from "../../errors";
import { closedWithin } from "../../lib/websocket-closed";
import { AgentHub, type AgentLink } from "./gateway.hub";
import { presentAgent } from "./gateway.presenter";
import { connectAgent, disconnectAgent, findAgents, findDesiredRules, recordApplied, touchAgent } from "./gateway.service";

/** How often the API pings each agent; the agent treats three missed pings as a dead link. */
export const AGENT_PING_MS = 15_000;
/** An agent must say hello within this time of connecting. */
const HELLO_TIMEOUT_MS = 10_000;
/** At shutdown, how long an agent has to answer the close before its socket is cut. */
const CLOSE_WAIT_MS = 2_000;
/** Messages of one socket waiting their turn: an agent sends one report per pass and one pong per
 * ping, so a longer queue is a flood (each message may be a write), and the socket is closed. */
export const MAX_QUEUED_AGENT_MESSAGES = 32;
/** Sockets one agent token may hold open (the oldest is closed for a new one beyond them): an
 * agent reconnecting while its old sockets linger needs a few; more are a flood. */
export const MAX_SOCKETS_PER_AGENT_TOKEN = 4;
/** setTimeout's longest delay; a later expiry is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export default async function gatewayRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const hub = new AgentHub(app.ctx, (err) => app.dbHealth.report("pushing rules to an agent failed", err));
  /** Database writes started by socket events; awaited at shutdown before the database closes. */
  const pending = new Set<Promise<unknown>>();
  /** Open agent sockets: shutdown waits for each to close, so that its disconnect is written. */
  const sockets = new Set<WebSocket>();
  const track = (p: Promise<unknown>) => {
    const tracked = p.catch((err: unknown) => app.dbHealth.report("agent bookkeeping failed", err)).finally(() => pending.delete(tracked));
    pending.add(tracked);
  };

  /** Open agent sockets by the token they authenticated with, so a revoked token (also revoked
   * when its owner is disabled or demoted) is cut at once. */
  const byToken = new Map<string, Set<(reason: string) => void>>();
  const unsubscribe = app.changes.subscribe(({ event }) => {
    const type = event.type;
    // Rules follow sessions, services, and who may see what (users and groups).
    if (type.startsWith("session.") || type.startsWith("service.") || type.startsWith("user.") || type.startsWith("group.")) hub.refreshAll();
    if (event.type === "token.revoked") for (const cut of byToken.get(event.token.id) ?? []) cut("this agent token was revoked");
  });
  app.addHook("onReady", async () => hub.start());
  // preClose, while the database is still open (onClose hooks run last-registered first, and the
  // database closes in one added after this plugin). The websocket plugin's preClose, which ran
  // before this one, has started closing every socket.
  app.addHook("preClose", async () => {
    unsubscribe();
    hub.stop();
    await Promise.all([...sockets].map((socket) => closedWithin(socket, CLOSE_WAIT_MS)));
    await Promise.all([...pending]);
  });

  r.get(
    "/api/agent",
    { websocket: true, config: { access: "user", scope: "agent" } },
    (socket: WebSocket, request) => {
      const send = (message: TServerToAgentMessage) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
      };
      const refuse = (message: string) => {
        send({ type: "error", message });
        socket.close(1008, message.slice(0, 120));
      };
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      const principal = request.principal;
      // A login (cookie or Basic bearer) carries every right of its user; the agent socket wants
      // a token that was made for it.
      if (!principal || principal.via !== "token" || !principal.token || !principal.scopes?.includes("agent")) {
        refuse("this needs an API token with the scope agent");
        return;
      }
      const token = principal.token;
      const cut = (reason: string) => refuse(reason);
      const cuts = byToken.get(token.id) ?? new Set<(reason: string) => void>();
      // The newest connection is the one most likely alive (an agent whose old sockets the network
      // dropped without a word reconnects), so it takes the place of the oldest.
      if (cuts.size >= MAX_SOCKETS_PER_AGENT_TOKEN) [...cuts][0]!("replaced by a newer connection with this agent token");
      byToken.set(token.id, cuts);
      cuts.add(cut);
      // A token that expires while its socket is open ends the socket then.
      let expiry: NodeJS.Timeout | undefined;
      const watchExpiry = () => {
        if (!token.expiresAt) return;
        const left = token.expiresAt.getTime() - app.ctx.now().getTime();
        if (left <= 0) return refuse("this agent token expired");
        expiry = setTimeout(watchExpiry, Math.min(left, MAX_TIMER_MS));
      };
      watchExpiry();
      let link: AgentLink | undefined;
      let closed = false;
      let queue: Promise<unknown> = Promise.resolve();
      const helloTimer = setTimeout(() => refuse("no hello within 10 s"), HELLO_TIMEOUT_MS);
      let unanswered = 0;
      const pinger = setInterval(() => {
        // An agent answers every ping; one silent through three has lost its link (a router that
        // changed address leaves no FIN behind), and its socket would hold a place until TCP gave up.
        if (unanswered >= 3) {
          socket.terminate();
          return;
        }
        unanswered += 1;
        send({ type: "ping", now: app.ctx.now().toISOString() });
      }, AGENT_PING_MS);

      const handle = async (raw: string) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw);
        } catch {
          refuse("messages must be JSON");
          return;
        }
        const result = ZAgentMessage.safeParse(parsed);
        if (!result.success) {
          const issue = result.error.issues[0];
          refuse(`bad message: ${issue?.path.join(".") || "type"}: ${issue?.message ?? "invalid"}`);
          return;
        }
        const message = result.data;
        if (message.type === "hello") {
          if (link) return refuse("hello was already received");
          clearTimeout(helloTimer);
          try {
            const agent = await connectAgent(app.ctx, { ...message, token, ip: request.ip });
            if (closed) {
              await disconnectAgent(app.ctx, agent.id, "closed during hello");
              return;
            }
            link = { agentId: agent.id, send };
            send({ type: "welcome", agentId: agent.id, name: agent.name });
            hub.add(link);
          } catch (err) {
            refuse(err instanceof AppError ? err.message : "could not register the agent");
            if (!(err instanceof AppError)) throw err;
          }
          return;
        }
        if (!link) return refuse("the first message must be hello");
        if (message.type === "applied") {
          lastSeenWritten = Date.now();
          await recordApplied(app.ctx, link.agentId, { ...message, desired: hub.desiredCount(link) });
        } else if (Date.now() - lastSeenWritten >= AGENT_PING_MS / 2) {
          // One write per ping at most, however many pongs come.
          lastSeenWritten = Date.now();
          await touchAgent(app.ctx, link.agentId);
        }
      };
      let lastSeenWritten = 0;
      let queued = 0;
      let flooded = false;

      socket.on("message", (data) => {
        unanswered = 0;
        if (queued >= MAX_QUEUED_AGENT_MESSAGES) {
          if (!flooded) refuse(`more than ${MAX_QUEUED_AGENT_MESSAGES} messages waiting; slow down`);
          flooded = true;
          return;
        }
        queued += 1;
        const raw = Array.isArray(data) ? Buffer.concat(data).toString("utf8") : data.toString();
        const next = queue.then(() => handle(raw)).finally(() => (queued -= 1));
        queue = next.catch(() => undefined);
        track(next);
      });
      socket.on("close", (code) => {
        closed = true;
        cuts.delete(cut);
        if (cuts.size === 0) byToken.delete(token.id);
        clearTimeout(expiry);
        clearTimeout(helloTimer);
        clearInterval(pinger);
        const gone = link;
        if (!gone) return;
        hub.remove(gone);
        // An agent back on a newer socket before this one was noticed gone is still online.
        track(queue.then(() => (hub.holds(gone.agentId) ? undefined : disconnectAgent(app.ctx, gone.agentId, `socket closed (${code})`))));
      });
    },
  );

  r.get(
    "/api/agents",
    { config: { access: "admin" }, schema: { response: { 200: z.array(ZAgent) } } },
    async () => {
      const agents = await findAgents(app.ctx);
      const now = app.ctx.now();
      return Promise.all(agents.map(async (a) => presentAgent(a, await findDesiredRules(app.ctx, a.id), now)));
    },
  );
}
