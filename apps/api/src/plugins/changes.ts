// An in-process notice board of committed changes. Route handlers announce what they changed
// after the transaction commits; the expiry scheduler (and later the live stream) listen.
import { EventEmitter } from "node:events";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Message } from "@postern/db";
import type { SessionRow } from "../modules/sessions/sessions.presenter";

export type Change =
  | { kind: "session"; verb: "started" | "requested" | "extended" | "ended" | "approved" | "denied" | "expired"; session: SessionRow }
  | { kind: "service"; verb: "created" | "updated" | "deleted"; serviceId: string }
  | { kind: "user"; verb: "created" | "updated" | "disabled"; userId: string }
  /** A relay message was queued, failed an attempt and waits to retry, was sent, or was given up on. */
  | { kind: "message"; verb: "queued" | "retrying" | "sent" | "failed"; message: Message };

export class Changes {
  private readonly emitter = new EventEmitter();
  announce(change: Change): void {
    this.emitter.emit("change", change);
  }
  subscribe(listener: (change: Change) => void): () => void {
    this.emitter.on("change", listener);
    return () => this.emitter.off("change", listener);
  }
}

declare module "fastify" {
  interface FastifyInstance {
    changes: Changes;
  }
}

export default fp(
  async (app: FastifyInstance) => {
    app.decorate("changes", new Changes());
  },
  { name: "changes" },
);
