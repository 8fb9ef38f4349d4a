// The board as one visibility class sees it. Built once per class and seq, then shared: ten
// thousand browsers connecting after a restart cost one pair of queries per class, not per client.
import type { TUser } from "@postern/contracts";
import type { DbContext } from "../../lib/db-context";
import { presentService, serviceInclude } from "../services/services.presenter";
import { visibleServicesWhere } from "../services/services.visibility";
import { presentSession, sessionInclude } from "../sessions/sessions.presenter";
import { OPEN_STATUSES } from "../sessions/sessions.service";
import type { VisibilityClass } from "./live.audience";

/** `{"services":[…],"sessions":[…]` — the data object without its closing brace, so each
 * client's `me` can be appended without serialising the board again. */
async function buildBoardJson(ctx: DbContext, cls: VisibilityClass): Promise<string> {
  const where = cls.admin || !cls.probe ? {} : visibleServicesWhere(cls.probe);
  const [services, sessions] = await Promise.all([
    ctx.db.service.findMany({ where, include: serviceInclude, orderBy: { name: "asc" } }),
    ctx.db.accessSession.findMany({
      where: { service: where, status: { in: [...OPEN_STATUSES] } },
      include: sessionInclude,
      orderBy: { requestedAt: "desc" },
    }),
  ]);
  const json = JSON.stringify({ services: services.map(presentService), sessions: sessions.map(presentSession) });
  return json.slice(0, -1);
}

/** Changes that announce no event (a CLI import, say) show up in new snapshots after this long. */
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
