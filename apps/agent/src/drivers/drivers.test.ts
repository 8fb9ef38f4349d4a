import { describe, expect, it } from "vitest";
import type { FwRule } from "../rules";
import { applyScript, parseTable } from "./nftables";
import { parseFlows } from "./conntrack";
import { parseChain, restoreScript, ruleSpec } from "./iptables";

const NOW = Date.parse("2026-11-25T12:00:00.250Z");
const rule: FwRule = { protocol: "tcp", sourceIp: "198.51.100.7", publicPort: 8443, lanHost: "10.0.0.5", lanPort: 443, expiresAt: NOW + 90_000 };

describe("nftables driver", () => {
  it("writes one atomic batch: delete-safe removals, then adds with millisecond timeouts", () => {
    const script = applyScript([rule], [{ ...rule, protocol: "udp", expiresAt: NOW + 1500 }], NOW);
    expect(script).toBe(
      [
        "add element ip postern tcp_fwd { 198.51.100.7 . 8443 timeout 1s : 10.0.0.5 . 443 }",
        "delete element ip postern tcp_fwd { 198.51.100.7 . 8443 }",
        "add element ip postern tcp_open { 198.51.100.7 . 8443 timeout 1s }",
        "delete element ip postern tcp_open { 198.51.100.7 . 8443 }",
        "add element ip postern udp_fwd { 198.51.100.7 . 8443 timeout 1500ms : 10.0.0.5 . 443 }",
        "add element ip postern udp_open { 198.51.100.7 . 8443 timeout 1500ms }",
        "",
      ].join("\n"),
    );
    expect(applyScript([], [], NOW)).toBe("");
  });

  it("reads back elements and their remaining time from nft -j output", () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: "1.0.6" } },
        { table: { family: "ip", name: "postern" } },
        {
          map: {
            name: "tcp_fwd",
            elem: [
              [{ elem: { val: { concat: ["198.51.100.7", 8443] }, timeout: 90, expires: 89 } }, { concat: ["10.0.0.5", 443] }],
              [{ concat: ["203.0.113.1", 22] }, { concat: ["10.0.0.9", 22] }],
            ],
          },
        },
        { map: { name: "udp_fwd" } },
      ],
    });
    expect(parseTable(json, NOW)).toEqual([
      { ...rule, expiresAt: NOW + 89_000 },
      { protocol: "tcp", sourceIp: "203.0.113.1", publicPort: 22, lanHost: "10.0.0.9", lanPort: 22, expiresAt: Infinity },
    ]);
  });
});

describe("iptables driver", () => {
  it("round-trips a rule through the -S listing, expiry included", () => {
    const spec = ruleSpec(rule, NOW);
    // Expiry 12:01:30.250: matching ends when the clock reaches 12:01:31.
    expect(spec).toContain("--datestop 2026-11-25T12:01:30");
    const { rules, foreign } = parseChain(`-N POSTERN-DNAT\n-A POSTERN-DNAT ${spec}\n-A POSTERN-DNAT -p tcp -j ACCEPT\n`);
    expect(rules).toEqual([{ ...rule, expiresAt: Math.ceil(NOW + 90_000), spec }]);
    expect(foreign).toEqual(["-p tcp -j ACCEPT"]);
    // An older agent's rule, without the label, is replaced: its new connections are labelled too.
    const unlabelled = spec.replace(/ -m connlabel --label "77" --set/, "");
    expect(parseChain(`-A POSTERN-DNAT ${unlabelled}\n`)).toEqual({ rules: [], foreign: [unlabelled] });
    // iptables-legacy prints the label without quotes.
    expect(parseChain(`-A POSTERN-DNAT ${spec.replace('"77"', "77")}\n`).rules).toHaveLength(1);
  });

  it("deletes by the listed line and appends new rules in one iptables-restore batch", () => {
    const [listed] = parseChain(`-A POSTERN-DNAT ${ruleSpec(rule, NOW)}`).rules;
    const kept = { ...rule, sourceIp: "198.51.100.8", expiresAt: NOW + 30_000 };
    const script = restoreScript([listed!], [{ ...rule, lanPort: 80 }], NOW, [kept]).trim().split("\n");
    // The filter chain first, written whole from what stays and what comes, so a new door's
    // connections pass before its DNAT admits them; its last line drops the rest of the doors'.
    expect(script.slice(0, 2)).toEqual(["*filter", "-F POSTERN-FWD"]);
    expect(script).toContain(
      "-A POSTERN-FWD -m conntrack --ctproto tcp --ctorigsrc 198.51.100.8/32 --ctorigdstport 8443 -m time --datestop 2026-11-25T12:00:30 -j RETURN",
    );
    expect(script).toContain(
      "-A POSTERN-FWD -m conntrack --ctproto tcp --ctorigsrc 198.51.100.7/32 --ctorigdstport 8443 -m time --datestop 2026-11-25T12:01:30 -j RETURN",
    );
    const nat = script.indexOf("*nat");
    expect(script.slice(nat - 2, nat)).toEqual(['-A POSTERN-FWD -m connlabel --label "77" -j DROP', "COMMIT"]);
    expect(script).toContain(`-D POSTERN-DNAT ${listed!.spec}`);
    expect(script.find((l) => l.includes("-j DNAT --to-destination 10.0.0.5:80"))).toContain('-m connlabel --label "77" --set');
    expect(script.at(-1)).toBe("COMMIT");
  });
});

describe("conntrack flow listing", () => {
  it("keys DNAT'd flows by original source and port and reply source and port", () => {
    const text = [
      "tcp      6 431999 ESTABLISHED src=198.51.100.7 dst=192.0.2.1 sport=40000 dport=8443 src=10.0.0.5 dst=198.51.100.7 sport=443 dport=40000 [ASSURED] mark=0 use=1",
      "udp      17 29 src=10.0.0.9 dst=192.0.2.1 sport=53 dport=53 [UNREPLIED] src=10.0.0.1 dst=10.0.0.9 sport=53 dport=53 mark=0 use=1",
      // The holder straight to the LAN host on the door's port: no DNAT, not the door's to cut.
      "tcp      6 431999 ESTABLISHED src=198.51.100.7 dst=10.0.0.5 sport=40001 dport=443 src=10.0.0.5 dst=198.51.100.7 sport=443 dport=40001 [ASSURED] mark=0 use=1",
    ].join("\n");
    const flows = parseFlows(text);
    expect(flows.has("tcp 198.51.100.7 8443 10.0.0.5 443")).toBe(true);
    expect(flows.has("tcp 198.51.100.7 443 10.0.0.5 443")).toBe(false);
    expect(flows.size).toBe(2);
  });
});
