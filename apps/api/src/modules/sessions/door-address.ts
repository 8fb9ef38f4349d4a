// The address a session's gateway door admits. The agent forwards IPv4 only (nftables' and
// iptables' IPv4 NAT): an IPv6 source is refused when the session is asked for, naming the field,
// rather than accepted and then reported by the agent as a rule it cannot apply, which marked
// every service on that gateway out of sync for everyone.
import { isIPv4 } from "node:net";
import { badField } from "../../errors";

const MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** The address to record: an IPv4-mapped IPv6 address (how a dual-stack listener sees an IPv4
 * client) as the IPv4 address it is. */
function sessionAddress(ip: string | undefined): string | null {
  if (!ip) return null;
  const mapped = MAPPED.exec(ip)?.[1];
  return mapped && isIPv4(mapped) ? mapped : ip;
}

/**
 * The address a new session on this service admits: the one asked for, else the client's own.
 * Refused (400 naming `body.sourceIp`) when the service is behind a gateway and it is not IPv4.
 */
export function doorAddress(gatewayAgentId: string | null, asked: string | undefined, client: string | undefined): string | null {
  const ip = sessionAddress(asked ?? client);
  if (!gatewayAgentId || ip === null || isIPv4(ip)) return ip;
  throw badField(
    "body.sourceIp",
    asked !== undefined
      ? "must be an IPv4 address: this service's door, a port-forward on its gateway, admits IPv4 only"
      : `your address ${ip} is not IPv4, and this service's door admits IPv4 only; send the IPv4 address to admit as sourceIp`,
  );
}
