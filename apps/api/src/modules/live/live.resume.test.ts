// A client that has just read the board opens the live stream from the seq the reads gave
// (LIVE_SEQ_HEADER) and gets what it missed since, not the same board again as a snapshot.
import { describe, expect, it } from "vitest";
import { LIVE_SEQ_HEADER, type TService } from "@postern/contracts";
import { createGroup, createService, createUser, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";
import type { LiveTestClient } from "./live.test-client";
import { liveTestBed } from "./live.test-bed";
import { lastLogSeq } from "./live.log";

describe.each(providers)("live stream resumed from the board's reads on %s", (provider) => {
  const bed = liveTestBed(provider);
  const { open, start } = bed;

  const read = async (user: TestUser, url: string) => {
    await bed.t.app.changes.settled();
    const res = await bed.t.app.inject({ method: "GET", url, headers: user.headers });
    expect(res.statusCode).toBe(200);
    return { seq: Number(res.headers[LIVE_SEQ_HEADER]), body: res.json<unknown>() };
  };
  const kinds = (c: LiveTestClient) => c.messages.map((m) => (m.type === "event" ? `${m.seq}:${m.event.type}` : m.type));

  it("marks every read of the board and the sessions with the stream's seq", async () => {
    const service = await createService(bed.t.app);
    await start(bed.admin, service.id);
    const seq = await lastLogSeq(bed.t.app.ctx);
    expect(seq).toBeGreaterThan(0);
    for (const url of ["/api/services", "/api/sessions?active=true", "/api/sessions?mine=true", "/api/sessions?active=true&limit=1"]) {
      expect((await read(bed.admin, url)).seq, url).toBe(seq);
    }
  });

  it("sends no snapshot when nothing changed since the read, only a ping, then what comes next", async () => {
    const group = await createGroup(bed.t.app);
    const service = await createService(bed.t.app, { groupIds: [group.id] });
    const member = await createUser(bed.t.app, { groupIds: [group.id] });
    await start(bed.admin, service.id);
    const { seq } = await read(member, "/api/services");

    const c = await open(member, seq);
    await c.waitFor((ms) => ms.length > 0, "the stream's first message");
    expect(kinds(c)).toEqual(["ping"]);

    await start(member, service.id);
    await c.waitFor((ms) => ms.some((m) => m.type === "event"), "the next change");
    expect(kinds(c)).toEqual(["ping", `${seq + 1}:session.started`]);
  });

  it("replays the changes made between the read and the stream, then pings", async () => {
    const service = await createService(bed.t.app);
    const { seq } = await read(bed.admin, "/api/sessions?active=true");
    await start(bed.admin, service.id);
    await bed.t.app.changes.settled();

    const c = await open(bed.admin, seq);
    await c.waitFor((ms) => ms.some((m) => m.type === "ping"), "the end of the replay");
    expect(kinds(c)).toEqual([`${seq + 1}:session.started`, "ping"]);
  });

  it("sends a snapshot instead when the caller's rights changed after the read", async () => {
    const group = await createGroup(bed.t.app);
    const service = await createService(bed.t.app, { groupIds: [group.id] });
    const member = await createUser(bed.t.app, { groupIds: [group.id] });
    const { seq, body } = await read(member, "/api/services");
    expect((body as TService[]).map((s) => s.id)).toEqual([service.id]);

    const removed = await bed.t.app.inject({ method: "DELETE", url: `/api/groups/${group.id}/members/${member.id}`, headers: bed.admin.headers });
    expect(removed.statusCode).toBe(200);
    await bed.t.app.changes.settled();

    const c = await open(member, seq);
    await c.waitFor((ms) => ms.length > 0, "the stream's first message");
    const first = c.messages[0];
    expect(first?.type).toBe("snapshot");
    // The board as the member may see it now: the service went with the group.
    expect(first?.type === "snapshot" && first.data.services).toEqual([]);
  });
});
