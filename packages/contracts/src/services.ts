import { z } from "zod";
import { ZHttpUrl, ZId, ZText } from "./common";
import { ZUserRef } from "./users";

export const ZServiceKind = z.enum(["web", "tcp", "vpn", "other"]);
export type TServiceKind = z.infer<typeof ZServiceKind>;

/** A service's slug: lower-case letters, digits and dashes, used in URLs and CLI. */
export const ZSlug = ZText.min(1)
  .max(64)
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "lower-case letters, digits and single dashes");

/**
 * The slug a name gets when none is given: accents dropped, lower case, dashes between words
 * (`Zürich Office` → `zurich-office`). The SPA, the CLI and the CSV import all use this one.
 */
export function slugify(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64)
    .replace(/-+$/, "");
}

/** A VPN or customer connection label, e.g. main "vpn main 1", sub "vpn sub 1". */
export const ZConnection = z.strictObject({
  main: ZText.trim().min(1).max(128),
  sub: ZText.trim().min(1).max(128).optional(),
});

/** Where the gateway agent forwards traffic for this service. */
export const ZGatewayBinding = z.strictObject({
  agentId: ZId,
  publicPort: z.number().int().min(1).max(65535),
  lanHost: ZText.trim().min(1).max(253),
  lanPort: z.number().int().min(1).max(65535),
  protocol: z.enum(["tcp", "udp"]),
});
export type TGatewayBinding = z.infer<typeof ZGatewayBinding>;

/** A host name: dot-separated labels of letters, digits and inner hyphens (and underscores, which
 * LAN resolvers hand out though DNS names should not carry them). */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;
const DOTTED_NUMBERS = /^[0-9.]+$/;

/** The binding as a request gives it: the LAN host is one the agent can forward to, an IPv4
 * address or a host name (the firewall's doors are IPv4; a port or a scheme has its own field). */
export const ZGatewayBindingInput = ZGatewayBinding.extend({
  lanHost: ZGatewayBinding.shape.lanHost.refine((h) => (DOTTED_NUMBERS.test(h) ? z.ipv4().safeParse(h).success : HOST_NAME.test(h)), {
    message: "must be an IPv4 address or a host name (no port, scheme or IPv6 address)",
  }),
});

const ZSeconds = z.number().int().min(1).max(366 * 24 * 3600);

export const ZService = z.object({
  id: ZId,
  name: z.string(),
  slug: z.string(),
  description: z.string().optional(),
  kind: ZServiceKind,
  url: z.string().optional(),
  connection: z.object({ main: z.string(), sub: z.string().optional() }).optional(),
  /** Exclusive services have at most one holder at a time. */
  exclusive: z.boolean(),
  requiresApproval: z.boolean(),
  defaultDurationSeconds: z.number().int(),
  maxDurationSeconds: z.number().int(),
  /** Groups whose members may see and request the service. */
  groupIds: z.array(ZId),
  gateway: ZGatewayBinding.optional(),
  /**
   * For a service behind a gateway: whether its agent is connected and has applied every rule it
   * was sent, i.e. whether the doors of the active sessions are open (an extension of the SPEC's
   * shape; read-only).
   */
  gatewayStatus: z
    .object({ online: z.boolean(), inSync: z.boolean(), error: z.string().optional() })
    .optional(),
  /** The current holder of an exclusive service. */
  holder: ZUserRef.optional(),
  /** How many sessions are active on the service now. */
  activeSessions: z.number().int().optional(),
});
export type TService = z.infer<typeof ZService>;

const serviceFields = {
  name: ZText.trim().min(1, "must not be empty").max(128),
  slug: ZSlug,
  description: ZText.trim().max(2000).optional(),
  kind: ZServiceKind,
  url: ZHttpUrl.optional(),
  connection: ZConnection.optional(),
  exclusive: z.boolean().optional(),
  requiresApproval: z.boolean().optional(),
  defaultDurationSeconds: ZSeconds.optional(),
  maxDurationSeconds: ZSeconds,
  groupIds: z.array(ZId).max(500).optional(),
  gateway: ZGatewayBindingInput.optional(),
};

export const ZCreateServiceBody = z.strictObject(serviceFields).refine(
  (s) => s.defaultDurationSeconds === undefined || s.defaultDurationSeconds <= s.maxDurationSeconds,
  { path: ["defaultDurationSeconds"], message: "must not exceed maxDurationSeconds" },
);
export type TCreateServiceBody = z.infer<typeof ZCreateServiceBody>;

/** Every field optional; `null` clears an optional one. */
export const ZUpdateServiceBody = z.strictObject({
  name: serviceFields.name.optional(),
  slug: ZSlug.optional(),
  description: serviceFields.description.nullable(),
  kind: ZServiceKind.optional(),
  url: serviceFields.url.nullable(),
  connection: serviceFields.connection.nullable(),
  exclusive: z.boolean().optional(),
  requiresApproval: z.boolean().optional(),
  defaultDurationSeconds: ZSeconds.optional(),
  maxDurationSeconds: ZSeconds.optional(),
  groupIds: serviceFields.groupIds,
  gateway: serviceFields.gateway.nullable(),
});
export type TUpdateServiceBody = z.infer<typeof ZUpdateServiceBody>;

/** The result of a CSV bulk import. */
export const ZImportResult = z.object({
  created: z.array(ZService),
  skipped: z.array(z.object({ line: z.number().int(), reason: z.string() })),
});
export type TImportResult = z.infer<typeof ZImportResult>;
