// The public tunnel for the app's lifetime: decorates `app.tunnel` (the state machine) and
// `app.publicUrl()` (the URL for OIDC redirects and links in mail), opens the tunnel once the
// server listens when POSTERN_TUNNEL=ngrok, and closes it on shutdown.
import type { AddressInfo } from "node:net";
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { TTunnel } from "@postern/contracts";
import { publicUrlOf } from "../../config";
import { isTunnelRequest, TunnelIngress } from "./tunnel.ingress";
import { TunnelManager, type TunnelTransition } from "./tunnel.manager";
import { presentTunnel } from "./tunnel.presenter";
import { recordTunnelTransition } from "./tunnel.service";

declare module "fastify" {
  interface FastifyInstance {
    tunnel: TunnelManager;
    /** The tunnel as the API shows it. */
    presentTunnel(): TTunnel;
    /**
     * The URL users reach Postern at: POSTERN_PUBLIC_URL when set, else the ngrok URL while the
     * tunnel is open, else http://localhost:PORT. Ask each time; it changes with the tunnel.
     */
    publicUrl(): string;
    /** The URL this request reached Postern at, for what the browser must come back to (an OIDC
     * callback): POSTERN_PUBLIC_URL when set, else the ngrok URL for a request that came through
     * the tunnel, else http://localhost:PORT; never the tunnel's for a request from the LAN. */
    publicUrlFor(request: FastifyRequest): string;
  }
}

/** How long shutdown waits for the tunnel to close. */
const CLOSE_WAIT_MS = 3_000;

export default fp(
  async (app: FastifyInstance) => {
    const config = app.config;

    const ingress = new TunnelIngress();
    /** Where ngrok forwards: the tunnel's own loopback listener (so its clients' addresses can be
     * told apart), else the address this process really listens on. */
    const addr = async () => {
      // The tunnel may open before the onListen hook below has finished starting the listener.
      if (manager.configured && app.server.listening) return ingress.start(app.server);
      const address = app.server.address() as AddressInfo | string | null;
      if (address && typeof address === "object") {
        const host = address.address === "0.0.0.0" || address.address === "::" ? "127.0.0.1" : address.address;
        return `${host.includes(":") ? `[${host}]` : host}:${address.port}`;
      }
      return `127.0.0.1:${config.port}`;
    };

    const onTransition = async (transition: TunnelTransition) => {
      const { snapshot } = transition;
      if (snapshot.state === "open") {
        app.log.info({ url: snapshot.url }, `tunnel open: Postern is reachable at ${snapshot.url}`);
      } else if (snapshot.state === "error") {
        app.log.error({ reason: snapshot.reason }, `tunnel failed: ${snapshot.reason}; Postern keeps serving locally`);
      } else if (snapshot.state === "closed") {
        app.log.info("tunnel closed");
      }
      // The private listener takes any local process's X-Forwarded-For as its client's address:
      // it listens only while ngrok may forward to it (open, or its session reconnecting).
      if (snapshot.state === "closed" || (snapshot.state === "error" && !snapshot.url)) ingress.close();
      try {
        await recordTunnelTransition(app.ctx, transition, app.presentTunnel());
      } catch (err) {
        // The tunnel's state is real whether or not its event could be written (database down).
        app.log.error({ err, state: snapshot.state }, "could not record the tunnel's change");
      }
    };

    const manager = new TunnelManager({
      authtoken: config.ngrokAuthtoken,
      domain: config.ngrokDomain,
      serverAddr: config.ngrokServerAddr,
      addr,
      now: app.ctx.now,
      onTransition,
    });

    app.decorate("tunnel", manager);
    app.decorate("publicUrl", () => config.publicUrl ?? manager.url() ?? publicUrlOf(config));
    app.decorate("publicUrlFor", (request: FastifyRequest) => config.publicUrl ?? (isTunnelRequest(request) ? manager.url() : undefined) ?? publicUrlOf(config));
    app.decorate("presentTunnel", () =>
      presentTunnel(manager.snapshot(), { configured: manager.configured, domain: manager.domain, publicUrl: app.publicUrl() }),
    );

    if (manager.configured) app.addHook("onClose", async () => ingress.close());
    if (config.tunnel === "ngrok") {
      app.addHook("onListen", async () => {
        // Not awaited: the server serves locally while ngrok is dialled, and keeps serving if it fails.
        manager.open().catch((err: unknown) => app.log.error({ err }, "the tunnel could not open"));
      });
    }
    // preClose: the closing audit event needs the database, which onClose hooks may have closed.
    // Bounded, because close() first waits for an opening under way (up to ngrok's timeout) and
    // the whole shutdown must fit in 10 s.
    app.addHook("preClose", async () => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        manager.close().catch((err: unknown) => app.log.error({ err }, "could not close the tunnel")),
        new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS))),
      ]);
      clearTimeout(timer);
    });
  },
  { name: "tunnel", dependencies: ["database", "changes"] },
);
