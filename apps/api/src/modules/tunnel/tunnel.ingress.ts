// Where ngrok delivers: a private listener on a loopback port of its own, whose connections are
// handed to the same HTTP server. Every tunnelled client arrives from 127.0.0.1, so for these
// connections — and only these — the client's address is the one ngrok appends to
// X-Forwarded-For. A request on the public port keeps its socket's address (or what
// POSTERN_TRUST_PROXY allows), so nobody can pick their own address by sending the header.
import net from "node:net";
import type { Server } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";

const tunnelSockets = new WeakSet<object>();

export class TunnelIngress {
  private server: net.Server | undefined;
  private starting: Promise<string> | undefined;

  /** Starts the private listener (once, however many ask) and returns its host:port for ngrok. */
  start(http: Server): Promise<string> {
    this.starting ??= new Promise<string>((resolve, reject) => {
      const server = net.createServer((socket) => {
        tunnelSockets.add(socket);
        http.emit("connection", socket);
      });
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        this.server = server;
        resolve(this.address() ?? "");
      });
    });
    return this.starting;
  }

  address(): string | undefined {
    const address = this.server?.address();
    return address && typeof address === "object" ? `127.0.0.1:${address.port}` : undefined;
  }

  close(): void {
    const server = this.server;
    this.server = undefined;
    this.starting = undefined;
    // Stops accepting only: open connections belong to the HTTP server now and close with it
    // (waiting for them here would wait for every tunnelled websocket).
    server?.close();
  }
}

/** The client's address as ngrok saw it: the last entry of X-Forwarded-For (ngrok appends it). */
export function forwardedAddressOf(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header.join(",") : header;
  const last = value?.split(",").pop()?.trim();
  return last && net.isIP(last) ? last : undefined;
}

/** Whether a request came in through the ngrok tunnel (from the internet, whatever its address). */
export function isTunnelRequest(request: FastifyRequest): boolean {
  return tunnelSockets.has(request.raw.socket);
}

/** onRequest: a tunnelled request's `request.ip` becomes its client's address. */
export function useTunnelClientAddress(request: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  // Callback style: it runs on every request, and an async hook costs a promise each time.
  if (tunnelSockets.has(request.raw.socket)) {
    const address = forwardedAddressOf(request.headers["x-forwarded-for"]);
    // An own property shadows Fastify's `ip` getter for this request alone.
    if (address) Object.defineProperty(request, "ip", { value: address, configurable: true, enumerable: true });
  }
  done();
}
