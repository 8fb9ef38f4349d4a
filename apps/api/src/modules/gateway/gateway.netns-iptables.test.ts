// The agent end to end in network namespaces with the iptables driver (cases in gateway.e2e.ts).
import { defineAgentEndToEnd } from "./gateway.e2e";

defineAgentEndToEnd("iptables");
