// The gateway agent: the admin view of agents (`GET /api/agents`) and the websocket protocol
// between the API and an agent (`GET /api/agent`).
import { z } from "zod";
import { MAX_INT32, ZId, ZText } from "./common";

/** One port-forward the agent must keep: admit `sourceIp` on `publicPort`, forward to the LAN. */
export const ZGatewayRule = z.object({
  /** The access session this rule belongs to. */
  sessionId: ZId,
  serviceId: ZId,
  protocol: z.enum(["tcp", "udp"]),
  /** The only client address admitted. */
  sourceIp: z.string(),
  publicPort: z.number().int().min(1).max(65535),
  lanHost: z.string(),
  lanPort: z.number().int().min(1).max(65535),
  /** When the agent must remove the rule by itself, reachable API or not. */
  expiresAt: z.string(),
});
export type TGatewayRule = z.infer<typeof ZGatewayRule>;

/** An agent as admins see it. */
export const ZAgent = z.object({
  id: ZId,
  name: z.string(),
  /** Connected to an API instance now. */
  online: z.boolean(),
  lastSeenAt: z.string().optional(),
  createdAt: z.string(),
  /** How many rules the agent should hold now, computed from the active sessions. */
  rulesDesired: z.number().int(),
  /** How many rules the agent last reported as applied. */
  rulesApplied: z.number().int(),
  /** Applied equals desired and the last apply had no error. */
  inSync: z.boolean(),
  /** The last error the agent reported (missing tool, no privileges, a rule it could not apply). */
  lastError: z.string().optional(),
  /** The rules the agent should hold now. */
  rules: z.array(ZGatewayRule),
  /** Services bound to this agent. */
  services: z.array(z.object({ id: ZId, name: z.string(), slug: z.string() })),
});
export type TAgent = z.infer<typeof ZAgent>;

// The websocket protocol. Every message is one JSON object with a `type`.

/** Agent → API. `hello` must be the first message. */
export const ZAgentMessage = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("hello"),
    /** The agent's name, unique among agents; its row is created on first contact. */
    name: ZText.trim().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, "letters, digits, dot, dash, underscore"),
    driver: ZText.max(32),
    version: ZText.max(32).optional(),
  }),
  z.object({
    type: z.literal("applied"),
    /** The `version` of the rules message this answers. */
    version: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    /** How many rules the firewall holds now. */
    applied: z.number().int().min(0).max(MAX_INT32),
    added: z.number().int().min(0).max(MAX_INT32),
    removed: z.number().int().min(0).max(MAX_INT32),
    /** Why some or all rules could not be applied; absent when all went well. */
    error: ZText.max(2000).optional(),
  }),
  z.object({ type: z.literal("pong") }),
]);
export type TAgentMessage = z.infer<typeof ZAgentMessage>;

/** API → agent. */
export const ZServerToAgentMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("welcome"), agentId: ZId, name: z.string() }),
  /** The complete desired set: the agent makes its firewall equal to it. */
  z.object({
    type: z.literal("rules"),
    version: z.number().int(),
    rules: z.array(ZGatewayRule),
    /** The API's time when it sent this: the agent measures expiries on the API's clock, so a
     * router whose clock is off still closes each door when its session ends. */
    now: z.iso.datetime().optional(),
  }),
  /** `now` as in `rules`: keeps the agent's idea of the API's clock current between changes. */
  z.object({ type: z.literal("ping"), now: z.iso.datetime().optional() }),
  /** Sent before the API closes the connection for a reason the agent should log. */
  z.object({ type: z.literal("error"), message: z.string() }),
]);
export type TServerToAgentMessage = z.infer<typeof ZServerToAgentMessage>;
