// Prepared frames on real ws sockets over loopback: what a client receives is what `send` would
// have sent, in order among ws's own frames, never after the close, and through `send` when an
// extension changes the framing.
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { sendFrame, textFrame } from "./live.frame";

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate();
    await new Promise((resolve) => s.close(resolve));
  }
});

/** A server and one client connected to it: the server's side of the socket, and what the client receives. */
async function pair(options: { perMessageDeflate?: boolean } = {}) {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: options.perMessageDeflate ?? false });
  servers.push(server);
  await once(server, "listening");
  const accepted = once(server, "connection") as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { perMessageDeflate: options.perMessageDeflate ?? false });
  const received: { text: string; binary: boolean }[] = [];
  client.on("message", (data, isBinary) => received.push({ text: data.toString(), binary: isBinary }));
  await once(client, "open");
  const [socket] = await accepted;
  return { socket, client, received };
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("prepared text frames", () => {
  it("arrive as the text send gives, for short, 16-bit and 64-bit lengths, in order with ws's own frames", async () => {
    const { socket, received } = await pair();
    const messages = ["{}", JSON.stringify({ pad: "é".repeat(200) }), JSON.stringify({ pad: "x".repeat(70_000) })];
    sendFrame(socket, textFrame(Buffer.from(messages[0]!)));
    socket.send("between", { binary: false });
    for (const m of messages.slice(1)) sendFrame(socket, textFrame(Buffer.from(m)));
    socket.ping();
    sendFrame(socket, textFrame(Buffer.from("last")));
    await until(() => received.length === 5);
    expect(received).toEqual([messages[0], "between", messages[1], messages[2], "last"].map((text) => ({ text, binary: false })));
  });

  it("one frame serves many sockets, without ws framing it again", async () => {
    const a = await pair();
    const b = await pair();
    // Through the socket under the WebSocket: should a ws upgrade rename that field, the frames
    // would still arrive (through send), and only this would say so.
    const sends = [vi.spyOn(a.socket, "send"), vi.spyOn(b.socket, "send")];
    const frame = textFrame(Buffer.from('{"type":"ping"}'));
    for (const s of [a.socket, b.socket, a.socket]) sendFrame(s, frame);
    for (const send of sends) expect(send).not.toHaveBeenCalled();
    await until(() => a.received.length === 2 && b.received.length === 1);
    expect([...a.received, ...b.received].map((r) => r.text)).toEqual(Array(3).fill('{"type":"ping"}'));
  });

  it("is not written once the socket is closing, and the close completes cleanly", async () => {
    const { socket, client, received } = await pair();
    const closed = once(client, "close") as Promise<[number, Buffer]>;
    socket.close(4000, "resync");
    sendFrame(socket, textFrame(Buffer.from("too late")));
    const [code] = await closed;
    expect(code).toBe(4000);
    expect(received).toEqual([]);
  });

  it("goes through send when the connection negotiated permessage-deflate", async () => {
    const { socket, received } = await pair({ perMessageDeflate: true });
    expect(socket.extensions).toContain("permessage-deflate");
    // ws compresses on zlib's thread and holds later frames back meanwhile: a frame written
    // straight to the socket would overtake the compressed one.
    const text = JSON.stringify({ pad: "y".repeat(2_000) });
    socket.send(text, { binary: false });
    sendFrame(socket, textFrame(Buffer.from("after")));
    await until(() => received.length === 2);
    expect(received).toEqual([
      { text, binary: false },
      { text: "after", binary: false },
    ]);
  });
});
