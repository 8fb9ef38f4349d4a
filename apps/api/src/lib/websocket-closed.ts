// Waiting for a websocket to finish closing, at shutdown: the server's drain (server.ts) and the
// gateway, whose agents' disconnects are written by their sockets' close handlers.
import type { WebSocket } from "ws";

/** Resolves once `socket` has closed and its close handlers have run; a peer that has not
 * answered the close within `timeoutMs` is cut (terminate, whose close follows at once). Call it
 * before or after starting the close. */
export function closedWithin(socket: WebSocket, timeoutMs: number): Promise<void> {
  if (socket.readyState === socket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const cut = setTimeout(() => socket.terminate(), timeoutMs);
    socket.once("close", () => {
      clearTimeout(cut);
      resolve();
    });
  });
}
