// The snapshot a live client gets: its class's board (board.cache.ts, shared with the REST reads
// and built once per class) and the connected user, serialised without re-serialising the board.
import type { TUser } from "@postern/contracts";
import type { BoardCache } from "../board/board.cache";
import type { VisibilityClass } from "./live.audience";

export async function snapshotMessage(board: BoardCache, cls: VisibilityClass, seq: number, me: TUser | undefined): Promise<string> {
  const view = await board.view(cls);
  const data = `{"services":${view.servicesJson},"sessions":${view.sessionsJson}${me ? `,"me":${JSON.stringify(me)}` : ""}}`;
  return `{"type":"snapshot","seq":${seq},"data":${data}}`;
}
