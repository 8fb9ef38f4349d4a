// The board as one visibility class sees it. Built once per class and seq, then shared: ten
// thousand browsers connecting after a restart cost one pair of queries per class, not per client.
import { OPEN_STATUSES, type TUser } from "@postern/contracts";
import type { Prisma } from "@postern/db";
import type { DbContext } from "../../lib/db-context";
import { presentService, serviceInclude } from "../services/services.presenter";
import { presentSession, sessionInclude } from "../sessions/sessions.presenter";
import type { VisibilityClass } from "./live.audience";

/** `{"services":[…],"sessions":[…]` — the data object without its closing brace, so each
 * client's `me` can be appended without serialising the board again. */
async function buildBoardJson(ctx: DbContext, cls: VisibilityClass): Promise<string> {
  const where: Prisma.ServiceWhereInput = cls.admin ? {} : { groups: { some: { groupId: { in: [...cls.groupIds] } } } };
  const [services, sessions] = await Promise.all([
    ctx.db.service.findMany({ where, include: serviceInclude, orderBy: { name: "asc" } }),
    ctx.db.accessSession.findMany({
      where: { service: where, status: { in: [...OPEN_STATUSES] } },
      include: sessionInclude,
      orderBy: { requestedAt: "desc" },
    }),
  ]);
  const view = { detail: cls.admin, now: ctx.now() };
  const json = JSON.stringify({ services: services.map((s) => presentService(s, view)), sessions: sessions.map(presentSession) });
  return json.slice(0, -1);
}

/** Some of the board changes with time alone (an agent whose heartbeats stopped reads offline):
 * a cached board is rebuilt after this long even without a new event. */
const MAX_AGE_MS = 2000;

export class SnapshotCache {
  private seq = -1;
  private readonly byClass = new Map<string, { board: Promise<string>; at: number }>();

  constructor(private readonly ctx: DbContext) {}

  /** The serialised snapshot message for a client of `cls` at `seq`. */
  async message(cls: VisibilityClass, seq: number, me: TUser | undefined): Promise<string> {
    if (seq !== this.seq) {
      this.seq = seq;
      this.byClass.clear();
    }
    let entry = this.byClass.get(cls.key);
    if (!entry || Date.now() - entry.at > MAX_AGE_MS) {
      const built = { board: buildBoardJson(this.ctx, cls), at: Date.now() };
      entry = built;
      this.byClass.set(cls.key, built);
      built.board.catch(() => {
        if (this.byClass.get(cls.key) === built) this.byClass.delete(cls.key);
      });
    }
    const data = (await entry.board) + (me ? `,"me":${JSON.stringify(me)}}` : "}");
    return `{"type":"snapshot","seq":${seq},"data":${data}}`;
  }
}
