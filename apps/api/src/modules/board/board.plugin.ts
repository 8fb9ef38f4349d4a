// Decorates `app.board`: the cached board of each visibility class (board.cache.ts), kept true
// by every committed change, and how a request's viewer maps to a class.
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { viewerOf } from "../../lib/caller";
import { classOf, type VisibilityClass } from "../live/live.audience";
import { viewerGroupIds } from "../services/services.visibility";
import { BoardCache, type BoardView } from "./board.cache";

export interface Board {
  cache: BoardCache;
  /** The board the request's caller sees. */
  viewFor(request: FastifyRequest): Promise<BoardView>;
  classFor(request: FastifyRequest): VisibilityClass;
}

declare module "fastify" {
  interface FastifyInstance {
    board: Board;
  }
}

export default fp(
  async (app: FastifyInstance) => {
    const cache = new BoardCache(app.ctx);
    const stopLocal = app.changes.onLocalCommit((event) => cache.notice(event));
    const stopRemote = app.changes.subscribe(({ event }) => cache.notice(event));
    app.addHook("preClose", async () => {
      stopLocal();
      stopRemote();
    });
    const classFor = (request: FastifyRequest) => {
      const viewer = viewerOf(request);
      return classOf({ admin: viewer.admin, groupIds: viewerGroupIds(viewer) });
    };
    app.decorate("board", { cache, classFor, viewFor: (request: FastifyRequest) => cache.view(classFor(request)) });
  },
  { name: "board", dependencies: ["database", "changes", "auth"] },
);
