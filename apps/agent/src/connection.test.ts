// The agent's link to the API against a real websocket server on loopback.
import { afterEach, describe, expect, it } from "vitest";
import pino from "pino";
import { WebSocketServer } from "ws";
import { apiRule } from "../test/rules";
import { AgentConnection, type RulesUpdate } from "./connection";

const log = pino({ level: "silent" });
const rule = (over: Record<string, unknown> = {}) => ({ ...apiRule(), ...over });

let server: WebSocketServer | undefined;
let connection: AgentConnection | undefined;
afterEach(async () => {
  await connection?.stop();
  await new Promise((resolve) => server?.close(resolve));
});

async function serve(messages: object[]): Promise<string> {
  server = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/api/agent" });
  server.on("connection", (socket) => socket.once("message", () => messages.forEach((m) => socket.send(JSON.stringify(m)))));
  await new Promise((resolve) => server!.once("listening", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return `http://127.0.0.1:${address.port}`;
}

describe("AgentConnection", () => {
  it("applies the rules it can read and reports the one it cannot, instead of dropping the set", async () => {
    const now = new Date().toISOString();
    const url = await serve([
      { type: "welcome", agentId: "a1", name: "edge" },
      { type: "rules", version: 7, now, rules: [rule(), rule({ sessionId: "s2", protocol: "sctp" }), rule({ sessionId: "s3", sourceIp: "198.51.100.8" })] },
    ]);
    const updates: RulesUpdate[] = [];
    connection = new AgentConnection({ url, token: "pst_test_token", name: "edge", driver: "dry-run", version: "0", log, onRules: (u) => updates.push(u) });
    connection.start();
    await expect.poll(() => updates.length).toBe(1);
    expect(updates[0]!.version).toBe(7);
    expect(updates[0]!.now).toBe(now);
    expect(updates[0]!.rules.map((r) => r.sessionId)).toEqual(["s1", "s3"]);
    expect(updates[0]!.invalid).toEqual([expect.stringMatching(/^session s2: cannot read protocol/)]);
  });

  it("answers pings and passes on the API's time they carry", async () => {
    const now = new Date().toISOString();
    const url = await serve([{ type: "ping", now }]);
    const times: string[] = [];
    connection = new AgentConnection({ url, token: "pst_test_token", name: "edge", driver: "dry-run", version: "0", log, onRules: () => undefined, onServerTime: (t) => times.push(t) });
    connection.start();
    await expect.poll(() => times).toEqual([now]);
  });
});
