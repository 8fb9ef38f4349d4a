// Every CLI command that changes state records its event, and a running server's live board shows
// it: the CLI is another process, so the server learns of the change from the live log (its
// PostgreSQL NOTIFY, or its poll of the log on SQLite). The command tree is walked, so a new
// command fails this test by name until it is listed below.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TDomainEventType } from "@postern/contracts";
import { buildTestApp, createGroup, createService, createUser, type TestApp, type TestUser } from "../../test/app";
import { postern } from "../../test/cli";
import { providers } from "../../test/databases";
import { openLive, type LiveTestClient } from "../modules/live/live.test-client";
import { createApiToken } from "../modules/tokens/tokens.service";
import { buildProgram } from "./program";

/** Each command is a fresh process: a few seconds on a busy machine. */
const CLI_TIMEOUT = 300_000;

interface Fixture {
  t: TestApp;
  admin: TestUser;
  cwd: string;
  /** The running server's address (for the commands that steer it, like `tunnel`). */
  base: string;
}

interface CliEntry {
  event: TDomainEventType;
  /** The arguments, built from fresh data. */
  args(f: Fixture): Promise<string[]>;
  /** Extra environment (POSTERN_URL/POSTERN_TOKEN for the tunnel). */
  env?(f: Fixture): Promise<Record<string, string>>;
  /** A non-zero exit that is itself the recorded change (the tunnel cannot reach ngrok here). */
  expectCode?: number;
}

const rnd = () => Math.random().toString(36).slice(2, 8);

const changing: Record<string, CliEntry> = {
  "user add": { event: "user.created", args: async () => ["user", "add", `cli-${rnd()}`, "--password", "long-enough-pw"] },
  "user disable": { event: "user.disabled", args: async ({ t }) => ["user", "disable", (await createUser(t.app)).username] },
  "user password": { event: "user.password_changed", args: async ({ t }) => ["user", "password", (await createUser(t.app)).username] },
  "group add": { event: "group.created", args: async () => ["group", "add", `g-${rnd()}`] },
  "group rename": { event: "group.renamed", args: async ({ t }) => ["group", "rename", (await createGroup(t.app)).name, `g-${rnd()}`] },
  "group delete": { event: "group.deleted", args: async ({ t }) => ["group", "delete", (await createGroup(t.app)).name] },
  "group member add": {
    event: "group.member_added",
    args: async ({ t }) => ["group", "member", "add", (await createGroup(t.app)).name, (await createUser(t.app)).username],
  },
  "group member remove": {
    event: "group.member_removed",
    args: async ({ t }) => {
      const group = await createGroup(t.app);
      return ["group", "member", "remove", group.name, (await createUser(t.app, { groupIds: [group.id] })).username];
    },
  },
  "service add": { event: "service.created", args: async () => ["service", "add", `Svc ${rnd()}`, "--exclusive"] },
  "service import": {
    event: "service.created",
    args: async ({ cwd }) => {
      const file = path.join(cwd, `import-${rnd()}.csv`);
      fs.writeFileSync(file, `vpn main ${rnd()};vpn sub 1\n`);
      return ["service", "import", file];
    },
  },
  "token create": { event: "token.created", args: async () => ["token", "create", "--name", `t-${rnd()}`, "--scope", "sessions:read"] },
  "token revoke": {
    event: "token.revoked",
    args: async ({ t }) => {
      const { row } = await createApiToken(t.app.ctx, { actor: null }, { name: "old", scopes: ["sessions:read"], userId: null });
      return ["token", "revoke", row.id];
    },
  },
  // The tunnel lives in the server process: the CLI asks it over HTTP, and the server records.
  "tunnel open": {
    event: "tunnel.failed",
    expectCode: 1,
    args: async () => ["tunnel", "open"],
    env: async ({ t, base }) => ({ POSTERN_URL: base, POSTERN_TOKEN: await tunnelToken(t) }),
  },
  "tunnel close": {
    event: "tunnel.closed",
    args: async () => ["tunnel", "close"],
    env: async ({ t, base }) => ({ POSTERN_URL: base, POSTERN_TOKEN: await tunnelToken(t) }),
  },
};

/** Commands that only read, or that are the server or its set-up. */
const readOnly = new Set(["serve", "migrate", "doctor", "user list", "audit export", "audit verify", "tunnel status"]);

async function tunnelToken(t: TestApp): Promise<string> {
  const { token } = await createApiToken(t.app.ctx, { actor: null }, { name: "tunnel", scopes: ["tunnel:manage"], userId: null });
  return token;
}

function leafCommands(cmd: Command, prefix: string[] = []): string[] {
  if (cmd.commands.length === 0) return [prefix.join(" ")];
  return cmd.commands.flatMap((c) => leafCommands(c, [...prefix, c.name()]));
}

describe("the CLI's command tree", () => {
  it("lists every command as changing (with its event) or read-only", () => {
    const all = leafCommands(buildProgram());
    const unknown = all.filter((c) => !(c in changing) && !readOnly.has(c));
    expect(unknown, `add each to \`changing\` (with the event it records) or \`readOnly\` in ${import.meta.filename}`).toEqual([]);
    expect(Object.keys(changing).filter((c) => !all.includes(c))).toEqual([]);
  });
});

describe.each(providers)("CLI changes reach a running server's live board (%s)", (provider) => {
  let f: Fixture;
  let live: LiveTestClient;

  beforeAll(async () => {
    const t = await buildTestApp(provider, { env: { NGROK_AUTHTOKEN: "not-a-real-authtoken" } });
    const admin = await createUser(t.app, { role: "admin" });
    const base = await t.app.listen({ port: 0, host: "127.0.0.1" });
    f = { t, admin, base, cwd: fs.mkdtempSync(path.join(os.tmpdir(), "postern-cli-events-")) };
    live = await openLive(base, admin.headers);
    await live.waitFor((ms) => ms.some((m) => m.type === "snapshot"), "the snapshot");
    // A service with a holder, so the board has something on it while the CLI works.
    await createService(t.app);
  });
  afterAll(async () => {
    await live?.close();
    await f?.t.close();
    if (f) fs.rmSync(f.cwd, { recursive: true, force: true });
  });

  it("records each command's event and shows it live", { timeout: CLI_TIMEOUT }, async () => {
    const problems: string[] = [];
    for (const [name, entry] of Object.entries(changing)) {
      const before = live.events().length;
      const args = await entry.args(f);
      const env = { DATABASE_URL: f.t.url, ...(await entry.env?.(f)) };
      const result = await postern(args, env, f.cwd);
      if (result.code !== (entry.expectCode ?? 0)) {
        problems.push(`${name}: exit ${result.code}: ${result.stderr.trim()}`);
        continue;
      }
      const seen = () => live.events().slice(before).some((m) => m.event.type === entry.event);
      await live.waitFor(() => seen(), `${entry.event} after \`postern ${name}\``, 10_000).catch(() => undefined);
      if (!seen()) problems.push(`${name}: ${entry.event} never reached the live board`);
    }
    expect(problems).toEqual([]);
  });
});
