// `postern audit verify` and `postern audit export`, run as the real command in a child process.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { postern as runPostern, type CliResult } from "../../../test/cli";
import { buildTestApp, createUser, testClock, type TestApp, type TestUser } from "../../../test/app";
import { providers } from "../../../test/databases";

function postern(args: string[], databaseUrl: string, cwd: string): Promise<CliResult> {
  return runPostern(args, { DATABASE_URL: databaseUrl }, cwd);
}

describe.each(providers)("postern audit on %s", (provider) => {
  let t: TestApp;
  let admin: TestUser;
  let cwd: string;

  beforeEach(async () => {
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), "postern-cli-"));
    t = await buildTestApp(provider, { now: testClock(Date.parse("2026-11-18T10:00:00Z")).now });
    admin = await createUser(t.app, { role: "admin" });
    for (const name of ["=cmd|' /C calc'!A0", "ops", "support"]) {
      const res = await t.app.inject({ method: "POST", url: "/api/groups", headers: admin.headers, payload: { name } });
      expect(res.statusCode).toBe(201);
    }
  });
  afterEach(async () => {
    await t.close();
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  it("verifies an intact chain, exports a week, and names the first tampered event", { timeout: 60_000 }, async () => {
    const count = await t.app.ctx.db.auditEvent.count();
    const ok = await postern(["audit", "verify"], t.url, cwd);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    const last = await t.app.ctx.db.auditEvent.findFirstOrThrow({ orderBy: { seq: "desc" } });
    expect(ok.stdout.trim()).toBe(`${count} events, chain intact; head ${count}:${last.hash}`);

    const out = path.join(cwd, "w47.csv");
    const exported = await postern(["audit", "export", "--week", "2026-W47", "--out", out], t.url, cwd);
    expect(exported.code).toBe(0);
    // Owner-only, as the weekly audit files are.
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    const api = await t.app.inject({ method: "GET", url: "/api/audit/export.csv?week=2026-W47", headers: admin.headers });
    expect(fs.readFileSync(out, "utf8")).toBe(api.body);
    expect(api.body.split("\r\n").length).toBe(count + 2); // header, the events, the final line end

    const victim = await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { action: "group.created" }, orderBy: { seq: "asc" } });
    await t.app.ctx.db.$executeRawUnsafe(`UPDATE "AuditEvent" SET "actorUsername" = 'nobody' WHERE "seq" = ${victim.seq}`);
    const broken = await postern(["audit", "verify"], t.url, cwd);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe("");
    expect(broken.stderr).toContain(`event #${victim.seq} (id ${victim.id})`);
    expect(broken.stderr).toContain("edited");
    expect(broken.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("verifies an exported CSV without the database (--csv), and names a changed, missing or reordered row", { timeout: 60_000 }, async () => {
    const out = path.join(cwd, "w47.csv");
    expect((await postern(["audit", "export", "--week", "2026-W47", "--out", out], t.url, cwd)).code).toBe(0);
    const events = await t.app.ctx.db.auditEvent.findMany({ orderBy: { seq: "asc" } });
    const last = events.at(-1)!;
    // No database named at all: the file alone.
    const offline = (...args: string[]) => runPostern(["audit", "verify", "--csv", ...args], { DATABASE_URL: "" }, cwd);
    const ok = await offline(out);
    expect(ok.stderr).toBe("");
    expect(ok.stdout.trim()).toBe(
      `${events.length} events (#1 to #${last.seq}), chain intact; follows 0:${events[0]!.prevHash}; head ${last.seq}:${last.hash}`,
    );
    expect((await offline(out, "--expect", `${last.seq}:${last.hash}`)).stdout).toContain(`matching event #${last.seq} of --expect`);

    const lines = fs.readFileSync(out, "utf8").split("\r\n");
    const write = (name: string, rows: string[]) => {
      const file = path.join(cwd, name);
      fs.writeFileSync(file, rows.join("\r\n"));
      return file;
    };
    // One in the middle: a file cut at either end still chains (the limit its header comment names).
    const victim = 1;
    const seqOf = (i: number) => events[i]!.seq;
    const changed = await offline(write("changed.csv", lines.map((l, i) => (i === victim + 1 ? l.replace("group.created", "group.renamed") : l))));
    expect(changed.code).toBe(1);
    expect(changed.stderr.trim()).toBe(
      `postern: audit chain broken in ${path.join(cwd, "changed.csv")} at line ${victim + 2} (event #${seqOf(victim)}): its cells do not give its hash: the row was changed; the ${victim} events before it are intact`,
    );
    const missing = await offline(write("missing.csv", lines.filter((_, i) => i !== victim + 1)));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`event #${seqOf(victim)} is missing`);
    const swapped = lines.slice();
    [swapped[victim + 1], swapped[victim + 2]] = [swapped[victim + 2]!, swapped[victim + 1]!];
    expect((await offline(write("swapped.csv", swapped))).stderr).toContain("is missing");
    const unknown = await offline(out, "--expect", `${last.seq + 5}:${last.hash}`);
    expect(unknown.stderr.trim()).toBe(`postern: --expect: event #${last.seq + 5} is not in ${out} (it holds #1 to #${last.seq})`);
    expect((await offline(path.join(cwd, "nope.csv"))).stderr.trim()).toBe(`postern: --csv: cannot read ${path.join(cwd, "nope.csv")}: ENOENT`);
  });

  it("checks the chain against a head noted earlier (--expect): the newest events deleted break it", { timeout: 60_000 }, async () => {
    const noted = /head (\d+:[0-9a-f]{64})/.exec((await postern(["audit", "verify"], t.url, cwd)).stdout)?.[1];
    expect(noted).toBeDefined();
    const kept = await postern(["audit", "verify", "--expect", noted!], t.url, cwd);
    expect(kept.code).toBe(0);
    expect(kept.stdout).toContain(`matching event #${noted!.split(":")[0]} of --expect`);

    // The newest events deleted: what is left still chains, so only the noted head tells.
    const count = await t.app.ctx.db.auditEvent.count();
    await t.app.ctx.db.$executeRawUnsafe(`DELETE FROM "AuditEvent" WHERE "seq" > ${count - 2}`);
    expect((await postern(["audit", "verify"], t.url, cwd)).code).toBe(0);
    const cut = await postern(["audit", "verify", "--expect", noted!], t.url, cwd);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toContain(`the chain ends at #${count - 2}, but --expect recorded event #${count} (the newest events were deleted)`);

    const bad = await postern(["audit", "verify", "--expect", "12:abc"], t.url, cwd);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^postern: --expect: expected <seq>:<hash>/);
  });

  it.runIf(provider === "sqlite")("rejects a bad week or range, naming the option", async () => {
    const bad = await postern(["audit", "export", "--week", "2026-W60"], t.url, cwd);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^postern: --week: no such ISO week/);
    const half = await postern(["audit", "export", "--from", "2026-11-01"], t.url, cwd);
    expect(half.code).toBe(1);
    expect(half.stderr).toMatch(/^postern: --to: required together with from/);
  });
});
