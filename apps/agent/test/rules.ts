// The API's rule for one session, as the tests build it: a forward of 198.51.100.7 on tcp/8443
// to 10.0.0.5:443 for a minute from `now`, with any field replaced.
import type { TGatewayRule } from "@postern/contracts";

export const apiRule = (over: Partial<TGatewayRule> = {}, now = Date.now()): TGatewayRule => ({
  sessionId: "s1",
  serviceId: "svc1",
  protocol: "tcp",
  sourceIp: "198.51.100.7",
  publicPort: 8443,
  lanHost: "10.0.0.5",
  lanPort: 443,
  expiresAt: new Date(now + 60_000).toISOString(),
  ...over,
});
