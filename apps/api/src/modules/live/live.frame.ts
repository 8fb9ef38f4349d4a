// A websocket text frame built once and written as it is to every client that gets it. ws's `send`
// frames the message again for each socket (a header buffer, two option objects, a corked write of
// two chunks): to 10,000 clients that was four-fifths of the fan-out's garbage and a tenth of its
// CPU (bare ws, 20 events: 14 scavenges against 3, 128–146 ms against 115–118 per event). ws made
// `Sender.frame` static for this very use (websockets/ws#1016, "a server broadcast where the same
// frame should be sent to all clients").
//
// The frame goes to the socket under the WebSocket, the one ws itself writes to, between whole
// frames: with permessage-deflate off (Postern's server never offers it), ws writes every frame
// synchronously and holds none back, so nothing can interleave. Anything unusual (an extension
// negotiated, no socket) goes through `send` as before.
import type { Duplex } from "node:stream";
import * as ws from "ws";
import type { WebSocket } from "ws";

export interface TextFrame {
  /** The message (JSON). */
  payload: Buffer;
  /** The whole frame as it goes on the wire: header and payload, unmasked (server to client). */
  wire: Buffer;
}

interface FrameOptions {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
}

/** ws's framing, which its type definitions do not describe (a named export of its ES module and
 * a property of its CommonJS one, so taken from the namespace). */
const { Sender } = ws as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } };

const TEXT = { fin: true, rsv1: false, opcode: 0x1, mask: false, readOnly: false };

export function textFrame(payload: Buffer): TextFrame {
  const parts = Sender.frame(payload, TEXT);
  return { payload, wire: parts.length === 1 ? parts[0]! : Buffer.concat(parts) };
}

/** Sends `frame` to an open socket, as `socket.send(frame.payload)` would. */
export function sendFrame(socket: WebSocket, frame: TextFrame): void {
  if (socket.readyState !== socket.OPEN) return;
  const raw = (socket as unknown as { _socket?: Duplex | null })._socket;
  if (raw && socket.extensions === "") raw.write(frame.wire);
  else socket.send(frame.payload, { binary: false });
}
