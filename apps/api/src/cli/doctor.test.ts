// `postern doctor` as a real subprocess, against a good setup (migrated PostgreSQL database, a
// real SMTP server, a real OpenID Provider) and a broken one (nothing listening where the
// configuration points).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../../test/databases";
import { postern } from "../../test/cli";
import { freePort, startOidcProvider, type TestOidcProvider } from "../../test/oidc-provider";

function lineOf(stdout: string, name: string): string {
  return stdout.split("\n").find((l) => new RegExp(`^  . ${name}\\b`).test(l)) ?? `(no ${name} line in:\n${stdout})`;
}

describe("postern doctor", () => {
  let dir: string;
  let smtp: SMTPServer;
  let smtpPort: number;
  let oidc: TestOidcProvider;
  let database: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-doctor-"));
    smtpPort = await freePort();
    smtp = new SMTPServer({ authOptional: true, disabledCommands: ["STARTTLS", "AUTH"], logger: false });
    await new Promise<void>((resolve) => smtp.listen(smtpPort, "127.0.0.1", resolve));
    oidc = await startOidcProvider({ postern: "http://127.0.0.1:8080", id: "corp" });
    database = await createTestDatabase("postgres");
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
    await oidc.close();
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reports a good setup with ✓ lines and exits 0", async () => {
    // Part of the setup comes from a config file given with --config, as an operator would.
    const file = path.join(dir, "good.yaml");
    fs.writeFileSync(
      file,
      [
        `database_url: ${database.url}`,
        `smtp_url: smtp://127.0.0.1:${smtpPort}`,
        "postern_mail_from: postern@example.test",
        "postern_relay_to: ops@example.test",
        "postern_public_url: https://access.example.test",
        `postern_data_dir: ${path.join(dir, "data")}`,
      ].join("\n"),
    );
    const res = await postern(
      ["--config", file, "doctor"],
      {
        POSTERN_SECRET: "doctor-secret-doctor-secret-0123456789",
        POSTERN_OIDC_CORP_ISSUER: oidc.issuer,
        POSTERN_OIDC_CORP_CLIENT_ID: oidc.clientId,
        POSTERN_OIDC_CORP_CLIENT_SECRET: oidc.clientSecret,
      },
      dir,
    );
    expect(res.stderr).toBe("");
    expect(res.code, res.stdout).toBe(0);
    expect(lineOf(res.stdout, "configuration")).toMatch(/✓ configuration\s+valid \(environment \+ .*good\.yaml\)/);
    expect(lineOf(res.stdout, "database")).toMatch(/✓ database\s+postgresql:\/\/postgres@127\.0\.0\.1:5432\/\S+ answers \(postgres\)/);
    expect(lineOf(res.stdout, "migrations")).toMatch(/✓ migrations\s+all \d+ applied/);
    expect(lineOf(res.stdout, "SMTP")).toMatch(new RegExp(`✓ SMTP\\s+smtp://127.0.0.1:${smtpPort} accepts a session`));
    expect(lineOf(res.stdout, "OIDC corp")).toMatch(/✓ OIDC corp\s+http:\/\/127\.0\.0\.1:\d+: discovery ok/);
    expect(lineOf(res.stdout, "tunnel")).toMatch(/– tunnel\s+off/);
    expect(res.stdout).toMatch(/^all good\.$/m);
  });

  it("names every broken dependency with a ✗ line and exits 1", async () => {
    const dead = await freePort();
    const res = await postern(
      ["doctor"],
      {
        DATABASE_URL: `postgresql://postgres:hunter2@127.0.0.1:${dead}/postern`,
        SMTP_URL: `smtp://mailer:smtp-pass@127.0.0.1:${dead}`,
        POSTERN_OIDC_CORP_ISSUER: `http://127.0.0.1:${dead}/realms/corp`,
        POSTERN_OIDC_CORP_CLIENT_ID: "postern",
        POSTERN_DATA_DIR: path.join(dir, "data"),
      },
      dir,
    );
    expect(res.code, res.stdout).toBe(1);
    expect(lineOf(res.stdout, "configuration")).toMatch(/✓ configuration/);
    expect(lineOf(res.stdout, "database")).toMatch(new RegExp(`✗ database\\s+postgresql://postgres:\\*\\*\\*@127.0.0.1:${dead}/postern: Can't reach database server`));
    expect(lineOf(res.stdout, "migrations")).toMatch(/– migrations\s+not checked/);
    expect(lineOf(res.stdout, "SMTP")).toMatch(new RegExp(`✗ SMTP\\s+smtp://mailer:\\*\\*\\*@127.0.0.1:${dead}: .*ECONNREFUSED`));
    expect(lineOf(res.stdout, "OIDC corp")).toMatch(/✗ OIDC corp\s+.*\/realms\/corp\/\.well-known\/openid-configuration: ECONNREFUSED/);
    expect(res.stdout).toMatch(/^3 problems found/m);
    // Secrets never reach the report.
    expect(res.stdout).not.toMatch(/hunter2|smtp-pass/);
  });

  it("stops at a bad configuration with one ✗ line naming the key, the value and what is expected", async () => {
    const res = await postern(["doctor"], { PORT: "eighty", POSTERN_DATA_DIR: path.join(dir, "data") }, dir);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe(
      'Postern doctor\n  ✗ configuration  invalid configuration: PORT="eighty": expected a port number from 0 to 65535\n1 problem found.\n',
    );
  });
});
