// `GET /api/agent`: the websocket gateway agents dial (token scope `agent`); `GET /api/agents`:
// the admin view of every agent with its desired rules.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { WebSocket } from "ws";
import { z } from "zod";
import { ZAgent, ZAgentMessage, type TServerToAgentMessage } from "@postern/contracts";
import { AppError } from "../../errors";
import { AgentHub, type AgentLink } from "./gateway.hub";
import { presentAgent } from "./gateway.presenter";
import { boundServiceIds, connectAgent, disconnectAgent, findAgents, findDesiredRules, recordApplied, touchAgent } from "./gateway.service";

/** How often the API pings each agent; the agent treats three missed pings as a dead link. */
export const AGENT_PING_MS = 15_000;
/** An agent must say hello within this time of connecting. */
const HELLO_TIMEOUT_MS = 10_000;

export default async function gatewayRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const hub = new AgentHub(app.ctx, (err) => app.log.error({ err }, "pushing rules to an agent failed"));
  /** Database writes started by socket events; awaited at shutdown before the database closes. */
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    const tracked = p.catch((err) => app.log.error({ err }, "agent bookkeeping failed")).finally(() => pending.delete(tracked));
    pending.add(tracked);
  };

  const unsubscribe = app.changes.subscribe((change) => {
    if (change.kind === "session" || change.kind === "service") hub.refreshAll();
  });
  app.addHook("onReady", async () => hub.start());
  app.addHook("onClose", async () => {
    unsubscribe();
    hub.stop();
    await Promise.all([...pending]);
  });

  // Boards show whether a gateway's doors are open: its services change when the agent does.
  // Not for the hub itself (it only reacts to session and service changes that alter rules).
  const announceDoors = async (agentId: string) => {
    for (const serviceId of await boundServiceIds(app.ctx, agentId)) app.changes.announce({ kind: "service", verb: "updated", serviceId });
  };

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
      const principal = request.principal;
      // A login (cookie or Basic bearer) carries every right of its user; the agent socket wants
      // a token that was made for it.
      if (!principal || principal.via !== "token" || !principal.token || !principal.scopes?.includes("agent")) {
        refuse("this needs an API token with the scope agent");
        return;
      }
      const token = principal.token;
      let link: AgentLink | undefined;
      let closed = false;
      let queue: Promise<unknown> = Promise.resolve();
      const helloTimer = setTimeout(() => refuse("no hello within 10 s"), HELLO_TIMEOUT_MS);
      const pinger = setInterval(() => send({ type: "ping" }), AGENT_PING_MS);

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
            await announceDoors(agent.id);
          } catch (err) {
            refuse(err instanceof AppError ? err.message : "could not register the agent");
            if (!(err instanceof AppError)) throw err;
          }
          return;
        }
        if (!link) return refuse("the first message must be hello");
        if (message.type === "applied") {
          if (await recordApplied(app.ctx, link.agentId, { ...message, desired: hub.desiredCount(link) })) await announceDoors(link.agentId);
        } else {
          await touchAgent(app.ctx, link.agentId);
        }
      };

      socket.on("message", (data) => {
        const raw = Array.isArray(data) ? Buffer.concat(data).toString("utf8") : data.toString();
        const next = queue.then(() => handle(raw));
        queue = next.catch(() => undefined);
        track(next);
      });
      socket.on("close", (code) => {
        closed = true;
        clearTimeout(helloTimer);
        clearInterval(pinger);
        const gone = link;
        if (!gone) return;
        hub.remove(gone);
        track(queue.then(() => disconnectAgent(app.ctx, gone.agentId, `socket closed (${code})`)).then(() => announceDoors(gone.agentId)));
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
