// The `postern` administration commands, run as the real CLI in a child process
// (`tsx src/cli/index.ts …` with DATABASE_URL set) against a real SQLite file and a real
// PostgreSQL database, then checked in the database itself.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type OpenDatabase } from "@postern/db";
import { createTestDatabase, providers } from "../../test/databases";
import { postern, spawnPostern } from "../../test/cli";
import { verifyPassword } from "../modules/auth/password";

/** Each command is a fresh tsx process: ~2 s on a quiet machine, far more on a busy one. */
const CLI_TIMEOUT = 240_000;

describe.each(providers)("postern CLI on %s", (provider) => {
  let url: string;
  let drop: () => Promise<void>;
  let cwd: string;
  let database: OpenDatabase;
  const run = (...args: string[]) => postern(args, { DATABASE_URL: url }, cwd);

  beforeEach(async () => {
    ({ url, drop } = await createTestDatabase(provider));
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), "postern-cli-"));
    database = await openDatabase(url, { poolSize: 2 });
  });
  afterEach(async () => {
    await database.close();
    await drop();
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  it("adds, lists and disables users; refuses duplicates and unknown users with one line", { timeout: CLI_TIMEOUT }, async () => {
    const [admin, member] = await Promise.all([
      run("user", "add", "alice", "--password", "correct-horse", "--admin", "--email", "alice@example.com"),
      run("user", "add", "bob", "--password", "battery-staple"),
    ]);
    expect(admin).toMatchObject({ code: 0, stderr: "" });
    expect(admin.stdout).toMatch(/^created admin alice \(\w+\)\n$/);
    expect(member).toMatchObject({ code: 0, stderr: "" });
    const alice = await database.db.user.findUniqueOrThrow({ where: { username: "alice" } });
    expect(alice).toMatchObject({ role: "admin", email: "alice@example.com", disabled: false });
    expect(alice.passwordHash).toMatch(/^\$argon2id\$/);

    const [duplicate, shortPassword, unknown, disabled] = await Promise.all([
      run("user", "add", "alice", "--password", "another-password"),
      run("user", "add", "carol", "--password", "short"),
      run("user", "disable", "nobody"),
      run("user", "disable", "bob"),
    ]);
    expect(duplicate.code).not.toBe(0);
    expect(duplicate.stdout).toBe("");
    expect(duplicate.stderr).toBe('postern: username "alice" is already taken\n');
    expect(shortPassword.code).not.toBe(0);
    expect(shortPassword.stderr).toBe("postern: --password: at least 8 characters\n");
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toBe('postern: no user "nobody"\n');
    // A usage error too is one line, not the help after it.
    const usage = await run("user", "add");
    expect(usage.code).not.toBe(0);
    expect(usage.stderr).toBe("postern: missing required argument 'username'\n");
    expect(await database.db.user.count()).toBe(2);
    expect(disabled).toMatchObject({ code: 0, stdout: "disabled bob\n", stderr: "" });
    expect((await database.db.user.findUniqueOrThrow({ where: { username: "bob" } })).disabled).toBe(true);

    const list = await run("user", "list");
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^USERNAME\s+ROLE\s+STATUS\s+EMAIL\s+GROUPS$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([
      ["alice", "admin", "active"],
      ["bob", "member", "disabled"],
    ]);

    const actions = (await database.db.auditEvent.findMany({ orderBy: { seq: "asc" } })).map((e) => [e.action, e.actorUsername]);
    expect(actions.map((a) => a[0]).sort()).toEqual(["user.created", "user.created", "user.disabled"]);
    expect(actions.every(([, actor]) => actor?.startsWith("cli:"))).toBe(true);
  });

  it("user password: prints a generated one, takes --password, or reads one from stdin; logins end", { timeout: CLI_TIMEOUT }, async () => {
    expect((await run("user", "add", "dora", "--password", "first-password")).code).toBe(0);
    const dora = await database.db.user.findUniqueOrThrow({ where: { username: "dora" } });
    await database.db.loginSession.create({ data: { userId: dora.id, expiresAt: new Date(Date.now() + 3600_000), provider: "local" } });
    const generated = await run("user", "password", "dora");
    expect(generated.code).toBe(0);
    const printed = /password: (\S+)/.exec(generated.stdout)?.[1] ?? "";
    const hashOf = async () => (await database.db.user.findUniqueOrThrow({ where: { username: "dora" } })).passwordHash;
    expect(await verifyPassword(await hashOf(), printed)).toBe(true);
    expect(await database.db.loginSession.count({ where: { userId: dora.id, revokedAt: null } })).toBe(0);

    const child = spawnPostern(["user", "password", "dora", "--password", "-"], { DATABASE_URL: url }, cwd);
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stdin.end("from-stdin-password\nignored\n");
    expect(await new Promise((resolve) => child.on("close", resolve))).toBe(0);
    expect(stdout).not.toContain("from-stdin-password");
    expect(await verifyPassword(await hashOf(), "from-stdin-password")).toBe(true);

    const short = await run("user", "password", "dora", "--password", "short");
    expect(short.stderr).toBe("postern: --password: at least 8 characters\n");
    expect(await verifyPassword(await hashOf(), "from-stdin-password")).toBe(true);
  });

  it("adds groups, members and services, and imports a CSV of main;sub lines", { timeout: CLI_TIMEOUT }, async () => {
    const csv = path.join(cwd, "connections.csv");
    fs.writeFileSync(csv, "main;sub\nvpn main 1;vpn sub 1\nvpn main 1;vpn sub 2\n;orphan\n\nvpn main 2\na;b;c\nvpn main 1;vpn sub 1\n");
    const [user, group] = await Promise.all([run("user", "add", "dana", "--password", "dana-password"), run("group", "add", "ops")]);
    expect(user.code).toBe(0);
    expect(group).toMatchObject({ code: 0, stderr: "" });
    expect(group.stdout).toMatch(/^created group ops \(\w+\)\n$/);

    const [duplicateGroup, member, unknownMember, unknownGroup, added, unknownGroupService, badSeconds, missing, short, shortImport] = await Promise.all([
      run("group", "add", "ops"),
      run("group", "member", "add", "ops", "dana"),
      run("group", "member", "add", "ops", "nobody"),
      run("group", "member", "add", "nogroup", "dana"),
      run("service", "add", "VPN Customer A", "--kind", "vpn", "--group", "ops", "--exclusive", "--max-seconds", "1800"),
      run("service", "add", "Other", "--group", "nogroup"),
      run("service", "add", "Other", "--max-seconds", "ten"),
      run("service", "import", path.join(cwd, "nope.csv")),
      run("service", "add", "Short", "--max-seconds", "30"),
      run("service", "import", csv, "--max-seconds", "30"),
    ]);
    // Below the shortest session (POSTERN_MIN_SESSION_SECONDS, 60): named by the option given.
    const tooShort = "--max-seconds: must be at least 60 seconds, the shortest session allowed (POSTERN_MIN_SESSION_SECONDS)";
    expect(short).toMatchObject({ code: 1, stderr: `postern: ${tooShort}\n` });
    expect(shortImport).toMatchObject({ code: 1, stderr: `postern: ${tooShort}\n` });
    expect(duplicateGroup.code).not.toBe(0);
    expect(duplicateGroup.stderr).toBe('postern: group "ops" already exists\n');
    expect(member).toMatchObject({ code: 0, stdout: "dana is a member of ops\n" });
    expect(unknownMember.stderr).toBe('postern: no user "nobody"\n');
    expect(unknownMember.code).not.toBe(0);
    expect(unknownGroup.stderr).toBe('postern: no group "nogroup"\n');
    expect(unknownGroup.code).not.toBe(0);
    expect(added).toMatchObject({ code: 0, stderr: "" });
    expect(added.stdout).toMatch(/^created service VPN Customer A \(slug vpn-customer-a, id \w+\)\n$/);
    expect(unknownGroupService.code).not.toBe(0);
    expect(unknownGroupService.stderr).toBe('postern: --group: no group named "nogroup"\n');
    expect(badSeconds.code).not.toBe(0);
    expect(badSeconds.stderr.trim().split("\n")[0]).toContain("--max-seconds");
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toBe(`postern: cannot read ${path.join(cwd, "nope.csv")}: ENOENT\n`);
    const service = await database.db.service.findUniqueOrThrow({
      where: { slug: "vpn-customer-a" },
      include: { groups: { include: { group: true } } },
    });
    expect(service).toMatchObject({ kind: "vpn", exclusive: true, maxDurationSeconds: 1800, defaultDurationSeconds: 1800 });
    expect(service.groups.map((g) => g.group.name)).toEqual(["ops"]);
    expect(await database.db.service.count()).toBe(1);

    const [duplicateService, imported] = await Promise.all([
      run("service", "add", "VPN Customer A"),
      run("service", "import", csv, "--group", "ops", "--max-seconds", "7200"),
    ]);
    expect(duplicateService.code).not.toBe(0);
    expect(duplicateService.stderr).toBe('postern: slug "vpn-customer-a" is already used by another service\n');
    expect(imported.stderr).toBe("");
    expect(imported.code).toBe(0);
    // Line numbers are the file's own, blank line included.
    expect(imported.stdout.split("\n").filter(Boolean)).toEqual([
      "created vpn-main-1-vpn-sub-1",
      "created vpn-main-1-vpn-sub-2",
      "created vpn-main-2",
      "skipped line 4: the main connection name is empty",
      "skipped line 7: expected at most two fields: main;sub",
      'skipped line 8: a service with slug "vpn-main-1-vpn-sub-1" already exists',
      "3 created, 3 skipped",
    ]);
    const sub2 = await database.db.service.findUniqueOrThrow({ where: { slug: "vpn-main-1-vpn-sub-2" }, include: { groups: true } });
    expect(sub2).toMatchObject({ connectionMain: "vpn main 1", connectionSub: "vpn sub 2", exclusive: true, maxDurationSeconds: 7200, kind: "vpn" });
    expect(sub2.groups).toHaveLength(1);
    expect(await database.db.service.count()).toBe(4);
  });
});
