// Decorates `app.board`: the cached board of each visibility class (board.cache.ts), kept true
// by every committed change, and how a request's viewer maps to a class.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { viewerOf } from "../../lib/caller";
import { ADMIN_CLASS, classOf, type VisibilityClass } from "../live/live.audience";
import { viewerGroupIds } from "../services/services.visibility";
import { CATCH_UP_MAX_MS, markLiveSeq, seqToReach } from "../live/live.seq";
import { BoardCache, type BoardView } from "./board.cache";

export interface Board {
  cache: BoardCache;
  /** Calls `use` with the board the request's caller sees: at once when it is in memory and fresh
   * (most reads: no promise at all), else once it is read; and, when the request asks for a board
   * at least as new as a change this instance has yet to hear of, once it has. The answer says
   * where the live stream stood as the board was taken (live/live.seq.ts). */
  withViewFor(request: FastifyRequest, reply: FastifyReply, use: (view: BoardView) => void): void | Promise<void>;
  classFor(request: FastifyRequest): VisibilityClass;
  /** The board the request's caller sees if it is in memory now, without waiting for it (a miss starts its read). */
  peekFor(request: FastifyRequest): BoardView | undefined;
  /** The same for a class already worked out (`classFor`). */
  peek(cls: VisibilityClass): BoardView | undefined;
}

declare module "fastify" {
  interface FastifyInstance {
    board: Board;
  }
}

export default fp(
  async (app: FastifyInstance) => {
    const cache = new BoardCache(app.ctx);
    const stop = app.changes.subscribeAtCommit(({ event, seq }) => cache.notice(event, seq));
    app.addHook("preClose", async () => stop());
    // A member's class is worked out once per cached user: the principal cache hands out the same
    // user object until a change to that user replaces it.
    const memberClasses = new WeakMap<object, VisibilityClass>();
    const classFor = (request: FastifyRequest) => {
      const viewer = viewerOf(request);
      if (viewer.admin) return ADMIN_CLASS;
      let cls = memberClasses.get(viewer.user);
      if (!cls) memberClasses.set(viewer.user, (cls = classOf({ admin: false, groupIds: viewerGroupIds(viewer) })));
      return cls;
    };
    const peek = (cls: VisibilityClass) => {
      const view = cache.peek(cls);
      // Read it for the next request: session events keep it true from then on.
      if (!view) cache.view(cls).catch(() => {});
      return view;
    };
    const viewOf = (cls: VisibilityClass, reply: FastifyReply, use: (view: BoardView) => void) => {
      markLiveSeq(app, reply);
      const view = cache.current(cls);
      return view ? use(view) : cache.view(cls).then(use);
    };
    app.decorate("board", {
      cache,
      classFor,
      withViewFor: (request: FastifyRequest, reply: FastifyReply, use: (view: BoardView) => void) => {
        const cls = classFor(request);
        const seq = seqToReach(app, request);
        if (seq !== undefined) return app.changes.reach(seq, CATCH_UP_MAX_MS).then(() => viewOf(cls, reply, use));
        return viewOf(cls, reply, use);
      },
      peekFor: (request: FastifyRequest) => peek(classFor(request)),
      peek,
    });
  },
  { name: "board", dependencies: ["database", "changes", "auth"] },
);
