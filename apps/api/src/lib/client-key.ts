// The key a per-address limit counts a client by. An IPv4 address is one client (or one NAT in
// front of several). An IPv6 client is normally handed a whole /64 — one home, one VPS — and can
// send each request from a new address in it, so counting full IPv6 addresses let it guess a
// password at will past every per-address limit: it is counted by its /64 instead.
//
// Only for limits. What is recorded as a request's source (audit, logs, a token's last use)
// stays its full address.
import { isIPv4, isIPv6 } from "node:net";

/** An IPv4 address (also written as IPv4-mapped IPv6) as itself; an IPv6 address as its /64
 * prefix, in one form however the address was written (`2001:db8:1:2::/64`). Anything else,
 * which no socket gives, is returned as it is. */
export function limitKeyOf(ip: string): string {
  if (isIPv4(ip)) return ip;
  // A zone id (fe80::1%eth0) names the interface, not the client.
  const address = ip.split("%", 1)[0]!;
  if (!isIPv6(address)) return ip;
  const h = hextetsOf(address);
  // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d.
  if (h.slice(0, 5).every((x) => x === 0) && h[5] === 0xffff) {
    return [h[6]! >> 8, h[6]! & 0xff, h[7]! >> 8, h[7]! & 0xff].join(".");
  }
  return `${normalised(`${h.slice(0, 4).map((x) => x.toString(16)).join(":")}::`)}/64`;
}

/** An IPv6 address in its shortest lower-case form, an embedded IPv4 tail turned into hex. */
function normalised(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** The eight 16-bit groups of a valid IPv6 address. */
function hextetsOf(address: string): number[] {
  const [head = "", tail] = normalised(address).split("::");
  const groups = (part: string | undefined) => (part ? part.split(":").map((x) => parseInt(x, 16)) : []);
  const before = groups(head);
  const after = groups(tail);
  return [...before, ...new Array<number>(8 - before.length - after.length).fill(0), ...after];
}
