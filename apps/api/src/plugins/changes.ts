// An in-process notice board of committed changes. Route handlers announce what they changed
// after the transaction commits; the expiry scheduler (and later the live stream) listen.
import { EventEmitter } from "node:events";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Message } from "@postern/db";
import type { TTunnel } from "@postern/contracts";
import type { SessionRow } from "../modules/sessions/sessions.presenter";

export type SessionChangeVerb =
  | "started" | "requested" | "extended" | "ended" | "approved" | "denied" | "expired"
  /** Booked for later; joined / left a waitlist; offered the freed service; let the offer lapse. */
  | "scheduled" | "waitlisted" | "left_waitlist" | "offered" | "offer_expired";

export type Change =
  | { kind: "session"; verb: SessionChangeVerb; session: SessionRow }
  | { kind: "service"; verb: "created" | "updated" | "deleted"; serviceId: string }
  | { kind: "user"; verb: "created" | "updated" | "disabled"; userId: string }
  /** A user joined or left a group: what they may see changed. */
  | { kind: "group"; verb: "member_added" | "member_removed"; groupId: string; userId: string }
  /** A relay message was queued, failed an attempt and waits to retry, was sent, or was given up on. */
  | { kind: "message"; verb: "queued" | "retrying" | "sent" | "failed"; message: Message }
  /** The public tunnel moved (opening, open, closed, or failed with a reason); `tunnel` is the presented state. */
  | { kind: "tunnel"; verb: "opening" | "opened" | "closed" | "failed"; tunnel: TTunnel };

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
