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
  return linesOf(stdout, name)[0] ?? `(no ${name} line in:\n${stdout})`;
}
function linesOf(stdout: string, name: string): string[] {
  return stdout.split("\n").filter((l) => new RegExp(`^  . ${name}\\b`).test(l));
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
    // Registered for the public URL the good setup uses.
    oidc = await startOidcProvider({ postern: "https://access.example.test", id: "corp" });
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
    expect(linesOf(res.stdout, "OIDC corp")).toEqual([
      expect.stringMatching(/✓ OIDC corp\s+http:\/\/127\.0\.0\.1:\d+: discovery ok \(logout at the provider too\)$/),
      expect.stringMatching(/✓ OIDC corp\s+redirect https:\/\/access\.example\.test\/api\/auth\/oidc\/corp\/callback accepted/),
    ]);
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
    expect(linesOf(res.stdout, "OIDC corp")).toEqual([
      expect.stringMatching(/✗ OIDC corp\s+.*\/realms\/corp\/\.well-known\/openid-configuration: ECONNREFUSED; check POSTERN_OIDC_CORP_ISSUER and that this machine can reach/),
    ]);
    expect(res.stdout).toMatch(/^3 problems found/m);
    expect(res.stderr).toBe("postern: doctor found 3 problems; see the ✗ lines\n");
    // Secrets never reach the report.
    expect(res.stdout).not.toMatch(/hunter2|smtp-pass/);
  });

  it("says what to fix when a provider's discovery fails or it refuses Postern's redirect URI", async () => {
    // A wrong issuer at a real provider (a realm path it does not have), an issuer that names
    // another one in its document, and a redirect URI the provider has not registered.
    const env = {
      DATABASE_URL: database.url,
      POSTERN_DATA_DIR: path.join(dir, "data"),
      POSTERN_PUBLIC_URL: "https://elsewhere.example.test",
      POSTERN_OIDC_WRONGPATH_ISSUER: `${oidc.issuer}/realms/corp`,
      POSTERN_OIDC_WRONGPATH_CLIENT_ID: oidc.clientId,
      POSTERN_OIDC_SLASHLESS_ISSUER: oidc.issuer.replace("127.0.0.1", "localhost"),
      POSTERN_OIDC_SLASHLESS_CLIENT_ID: oidc.clientId,
      POSTERN_OIDC_CORP_ISSUER: oidc.issuer,
      POSTERN_OIDC_CORP_CLIENT_ID: oidc.clientId,
      POSTERN_OIDC_CORP_CLIENT_SECRET: oidc.clientSecret,
    };
    const res = await postern(["doctor"], env, dir);
    expect(res.code, res.stdout).toBe(1);
    expect(linesOf(res.stdout, "OIDC wrongpath")).toEqual([
      expect.stringMatching(
        /✗ OIDC wrongpath\s+http:\/\/127\.0\.0\.1:\d+\/realms\/corp\/\.well-known\/openid-configuration answered 404: no discovery document there; POSTERN_OIDC_WRONGPATH_ISSUER must be the issuer URL itself \(e\.g\. Keycloak https:\/\/<host>\/realms\/<realm>/,
      ),
    ]);
    expect(linesOf(res.stdout, "OIDC slashless")).toEqual([
      expect.stringMatching(new RegExp(`✗ OIDC slashless\\s+the discovery document names issuer ${oidc.issuer}, not http://localhost:\\d+: set POSTERN_OIDC_SLASHLESS_ISSUER=${oidc.issuer}$`)),
    ]);
    expect(linesOf(res.stdout, "OIDC corp")).toEqual([
      expect.stringMatching(/✓ OIDC corp\s+.*discovery ok/),
      expect.stringMatching(
        new RegExp(
          `✗ OIDC corp\\s+redirect https://elsewhere\\.example\\.test/api/auth/oidc/corp/callback refused .*redirect_uri.*; ` +
            `register https://elsewhere\\.example\\.test/api/auth/oidc/corp/callback as an allowed redirect \\(callback\\) URI of client ${oidc.clientId}`,
        ),
      ),
    ]);
    expect(res.stdout).toMatch(/^3 problems found/m);
    expect(res.stderr).toBe("postern: doctor found 3 problems; see the ✗ lines\n");
  });

  it("fails on a secret file serve would refuse: empty, or shorter than POSTERN_SECRET may be", { timeout: 120_000 }, async () => {
    const dataDir = path.join(dir, "short-secret");
    const env = { POSTERN_DATA_DIR: dataDir };
    expect((await postern(["migrate"], env, dir)).code).toBe(0);
    const secret = path.join(dataDir, "secret");
    for (const [text, held] of [
      ["", "no secret"],
      ["hand-written\n", "a secret of 12 characters"],
    ] as const) {
      fs.writeFileSync(secret, text, { mode: 0o600 });
      const res = await postern(["doctor"], env, dir);
      expect(res.code, res.stdout).toBe(1);
      expect(lineOf(res.stdout, "secret")).toBe(
        `  ✗ secret          ${secret} holds ${held}, expected at least 32: remove it to have one generated at the next start (everyone logs in again), or set POSTERN_SECRET`,
      );
      expect(res.stdout).toMatch(/^1 problem found/m);
    }
  });

  it("creates nothing where DATABASE_URL points at no file, and says how to make the database", { timeout: 120_000 }, async () => {
    const file = path.join(dir, "typo", "postrn.db");
    const dataDir = path.join(dir, "not-yet");
    const res = await postern(["doctor"], { POSTERN_DATA_DIR: dataDir, DATABASE_URL: `file:${file}` }, dir);
    expect(res.code, res.stdout).toBe(1);
    expect(lineOf(res.stdout, "database")).toBe(`  ✗ database        no database at ${file}; \`postern migrate\` creates it`);
    expect(lineOf(res.stdout, "data directory")).toMatch(/✓ data directory\s+.*not-yet does not exist yet; `postern serve` creates it$/);
    expect(fs.existsSync(path.dirname(file))).toBe(false);
    expect(fs.existsSync(dataDir)).toBe(false);
    // The embedded default before the first start is a new install: a warning, and still nothing made.
    const fresh = await postern(["doctor"], { POSTERN_DATA_DIR: dataDir }, dir);
    expect(lineOf(fresh.stdout, "database")).toBe(
      `  ! database        none yet at ${path.join(dataDir, "postern.db")}; \`postern serve\` (or \`postern migrate\`) creates it`,
    );
    expect(fresh.stdout).not.toMatch(/✗ database/);
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  it("stops at a bad configuration with one ✗ line naming the key, the value and what is expected", async () => {
    const res = await postern(["doctor"], { PORT: "eighty", POSTERN_DATA_DIR: path.join(dir, "data") }, dir);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe(
      'Postern doctor\n  ✗ configuration  invalid configuration: PORT="eighty": expected a port number from 0 to 65535\n1 problem found.\n',
    );
  });
});
