// Configuration: environment over config file over defaults, and every way a value can be wrong
// (the message names the key, the value and what is expected; Postern refuses to start).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, publicUrlOf, resolveSecret } from "./config";
import { trustProxyOf } from "./server";
import { postern } from "../test/cli";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "postern-config-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let fileCounter = 0;
function yamlFile(text: string): string {
  fileCounter += 1;
  const file = path.join(dir, `postern-${fileCounter}.yaml`);
  fs.writeFileSync(file, text);
  return file;
}

/** The one-line message loading this configuration fails with. */
function errorOf(env: Record<string, string>, file = "/dev/null"): string {
  try {
    loadConfig(env, file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).not.toContain("\n");
    return message;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be rejected`);
}

describe("configuration precedence", () => {
  it("uses the defaults when nothing is set", () => {
    const config = loadConfig({}, "/dev/null");
    expect(config).toMatchObject({
      port: 8080,
      host: "0.0.0.0",
      dataDir: path.resolve("./data"),
      databaseUrl: `file:${path.resolve("./data", "postern.db")}`,
      minSessionSeconds: 60,
      logLevel: "info",
      tunnel: "off",
      oidc: [],
    });
    expect(config.publicUrl).toBeUndefined();
    expect(publicUrlOf(config)).toBe("http://localhost:8080");
    expect(trustProxyOf(config)).toBe(false);
  });

  it("takes the file over the defaults and the environment over the file", () => {
    const file = yamlFile(
      ["port: 9000", "host: 127.0.0.1", "postern_data_dir: /srv/postern", "postern_min_session_seconds: 300", "postern_log_level: warn"].join("\n"),
    );
    const fromFile = loadConfig({}, file);
    expect(fromFile).toMatchObject({ port: 9000, host: "127.0.0.1", dataDir: "/srv/postern", minSessionSeconds: 300, logLevel: "warn" });
    // The data directory moves the default database with it.
    expect(fromFile.databaseUrl).toBe("file:/srv/postern/postern.db");
    expect(publicUrlOf(fromFile)).toBe("http://localhost:9000");

    const both = loadConfig({ PORT: "9100", POSTERN_LOG_LEVEL: "debug" }, file);
    expect(both).toMatchObject({ port: 9100, logLevel: "debug", host: "127.0.0.1", minSessionSeconds: 300 });
  });

  it("treats an empty environment variable as unset", () => {
    const file = yamlFile("port: 9000\n");
    expect(loadConfig({ PORT: "" }, file).port).toBe(9000);
  });

  it("finds the file from POSTERN_CONFIG, and an explicit --config wins over it", () => {
    const a = yamlFile("port: 9001\n");
    const b = yamlFile("port: 9002\n");
    expect(loadConfig({ POSTERN_CONFIG: a }).port).toBe(9001);
    expect(loadConfig({ POSTERN_CONFIG: a }, b).port).toBe(9002);
  });

  it("labels a provider by its id unless named, from the file as from the environment", () => {
    const file = yamlFile("oidc:\n  - id: keycloak\n    issuer: https://sso.example.com/realms/corp\n    client_id: postern\n  - id: corp\n    name: Corporate SSO\n    issuer: https://corp.example.com\n    client_id: postern\n");
    expect(loadConfig({}, file).oidc.map((p) => [p.id, p.name])).toEqual([
      ["keycloak", "Keycloak"],
      ["corp", "Corporate SSO"],
    ]);
    const env = { POSTERN_OIDC_KEYCLOAK_ISSUER: "https://sso.example.com/realms/corp", POSTERN_OIDC_KEYCLOAK_CLIENT_ID: "postern" };
    expect(loadConfig(env, "/dev/null").oidc.map((p) => [p.id, p.name])).toEqual([["keycloak", "Keycloak"]]);
  });

  it("takes POSTERN_OIDC_<ID>_* in lower case from the file, the environment over it key by key", () => {
    const file = yamlFile(
      ["postern_oidc_corp_issuer: https://id.example.com", "postern_oidc_corp_client_id: postern", "postern_oidc_corp_allow_signup: false"].join("\n"),
    );
    expect(loadConfig({}, file).oidc).toEqual([
      expect.objectContaining({ id: "corp", name: "Corp", issuer: "https://id.example.com", clientId: "postern", allowSignup: false }),
    ]);
    const env = { POSTERN_OIDC_CORP_CLIENT_ID: "from-env", POSTERN_OIDC_CORP_NAME: "Corporate SSO" };
    expect(loadConfig(env, file).oidc).toEqual([
      expect.objectContaining({ id: "corp", name: "Corporate SSO", issuer: "https://id.example.com", clientId: "from-env", allowSignup: false }),
    ]);
  });

  it("accepts an empty file and a file of comments", () => {
    expect(loadConfig({}, yamlFile("")).port).toBe(8080);
    expect(loadConfig({}, yamlFile("# nothing yet\n")).port).toBe(8080);
  });

  it("parses the tunnel settings, the CLI's server and the public URL", () => {
    const config = loadConfig(
      {
        POSTERN_TUNNEL: "ngrok",
        NGROK_AUTHTOKEN: "2abc_token",
        POSTERN_NGROK_DOMAIN: "postern.ngrok.app",
        POSTERN_PUBLIC_URL: "https://access.example.com/",
        POSTERN_URL: "http://10.0.0.5:8080",
        POSTERN_TOKEN: "pst_x",
        POSTERN_TRUST_PROXY: "10.0.0.0/8, 127.0.0.1",
      },
      "/dev/null",
    );
    expect(config).toMatchObject({
      tunnel: "ngrok",
      ngrokAuthtoken: "2abc_token",
      ngrokDomain: "postern.ngrok.app",
      publicUrl: "https://access.example.com",
      cliUrl: "http://10.0.0.5:8080",
      cliToken: "pst_x",
    });
    expect(trustProxyOf(config)).toEqual(["10.0.0.0/8", "127.0.0.1"]);
    expect(trustProxyOf(loadConfig({ POSTERN_TRUST_PROXY: "true" }, "/dev/null"))).toBe(true);
    // YAML reads these as a boolean and a number.
    expect(trustProxyOf(loadConfig({}, yamlFile("postern_trust_proxy: true\n")))).toBe(true);
    expect(typeof trustProxyOf(loadConfig({}, yamlFile("postern_trust_proxy: 1\n")))).toBe("function");
    const hops = trustProxyOf(loadConfig({ POSTERN_TRUST_PROXY: "1" }, "/dev/null"));
    expect(typeof hops === "function" && [hops("203.0.113.1", 0), hops("203.0.113.1", 1)]).toEqual([true, false]);
  });
});

describe("configuration errors", () => {
  const cases: [string, Record<string, string>, string][] = [
    ["PORT", { PORT: "eighty" }, 'PORT="eighty": expected a port number from 0 to 65535'],
    ["PORT range", { PORT: "70000" }, 'PORT="70000": expected a port number from 0 to 65535'],
    ["DATABASE_URL", { DATABASE_URL: "mysql://db/postern" }, 'DATABASE_URL="mysql://db/postern": expected a file: URL (SQLite) or a postgres:// URL'],
    ["DATABASE_URL password", { DATABASE_URL: "mysql://postern:hun:t/er2@db/postern" }, 'DATABASE_URL="mysql://postern:***@db/postern": expected a file: URL'],
    ["POSTERN_SECRET", { POSTERN_SECRET: "short" }, "POSTERN_SECRET=(hidden): expected at least 32 characters"],
    ["POSTERN_PUBLIC_URL", { POSTERN_PUBLIC_URL: "access.example.com" }, 'POSTERN_PUBLIC_URL="access.example.com": expected an http:// or https:// URL'],
    ["POSTERN_PUBLIC_URL scheme", { POSTERN_PUBLIC_URL: "ftp://example.com" }, 'POSTERN_PUBLIC_URL="ftp://example.com": expected an http:// or https:// URL'],
    ["POSTERN_TRUST_PROXY", { POSTERN_TRUST_PROXY: "10.0.0.0/33" }, 'POSTERN_TRUST_PROXY="10.0.0.0/33": expected true, false, a hop count, or a comma-separated list'],
    ["POSTERN_TRUST_PROXY name", { POSTERN_TRUST_PROXY: "nginx" }, 'POSTERN_TRUST_PROXY="nginx": expected true, false, a hop count'],
    ["POSTERN_MIN_SESSION_SECONDS", { POSTERN_MIN_SESSION_SECONDS: "0" }, 'POSTERN_MIN_SESSION_SECONDS="0": expected a whole number of seconds from 1 to 86400'],
    ["POSTERN_MIN_SESSION_SECONDS above a day", { POSTERN_MIN_SESSION_SECONDS: "90000" }, 'POSTERN_MIN_SESSION_SECONDS="90000": expected a whole number of seconds from 1'],
    ["PORT of spaces", { PORT: "  " }, 'PORT="  ": expected a port number'],
    ["PORT in hex", { PORT: "0x1F90" }, 'PORT="0x1F90": expected a port number'],
    ["POSTERN_LOG_LEVEL", { POSTERN_LOG_LEVEL: "loud" }, 'POSTERN_LOG_LEVEL="loud": expected one of fatal, error, warn, info, debug, trace, silent'],
    ["SMTP_URL", { SMTP_URL: "http://u:p@mail.example.com" }, "SMTP_URL=(hidden): an smtp:// or smtps:// URL"],
    ["POSTERN_MAIL_FROM", { POSTERN_MAIL_FROM: "Postern" }, 'POSTERN_MAIL_FROM="Postern": an address'],
    ["POSTERN_RELAY_TO", { POSTERN_RELAY_TO: "ops" }, 'POSTERN_RELAY_TO="ops": comma-separated e-mail addresses'],
    ["POSTERN_TUNNEL", { POSTERN_TUNNEL: "cloudflare" }, 'POSTERN_TUNNEL="cloudflare": expected off or ngrok'],
    ["NGROK_AUTHTOKEN", { POSTERN_TUNNEL: "ngrok" }, "NGROK_AUTHTOKEN=(missing): needed when POSTERN_TUNNEL=ngrok"],
    ["POSTERN_NGROK_DOMAIN", { POSTERN_NGROK_DOMAIN: "https://postern.ngrok.app" }, 'POSTERN_NGROK_DOMAIN="https://postern.ngrok.app": expected a host name without scheme'],
    ["POSTERN_URL", { POSTERN_URL: "localhost:8080" }, 'POSTERN_URL="localhost:8080": expected the running server\'s http:// or https:// URL'],
    ["POSTERN_OIDC_<ID>_ISSUER", { POSTERN_OIDC_CORP_ISSUER: "not a url", POSTERN_OIDC_CORP_CLIENT_ID: "x" }, 'POSTERN_OIDC_CORP_ISSUER="not a url"'],
    ["POSTERN_OIDC_<ID>_CLIENT_ID", { POSTERN_OIDC_CORP_ISSUER: "https://id.example.com" }, "POSTERN_OIDC_CORP_CLIENT_ID=(missing)"],
  ];

  it.each(cases)("names %s, its value and what is expected", (_name, env, expected) => {
    expect(errorOf(env)).toContain(expected);
  });

  it("reports every bad value at once, on one line", () => {
    expect(errorOf({ PORT: "x", POSTERN_TUNNEL: "yes" })).toBe(
      'invalid configuration: PORT="x": expected a port number from 0 to 65535; POSTERN_TUNNEL="yes": expected off or ngrok',
    );
  });

  it("never shows a secret's value", () => {
    const message = errorOf({ POSTERN_SECRET: "tiny-secret", SMTP_URL: "http://user:s3cret@mail", POSTERN_TUNNEL: "x", NGROK_AUTHTOKEN: "tok" });
    expect(message).not.toMatch(/tiny-secret|s3cret/);
  });

  it("names the key as written in the file when the value came from there", () => {
    const file = yamlFile("port: high\npostern_log_level: 3\n");
    expect(errorOf({}, file)).toBe(
      `invalid configuration: port (in ${file})="high": expected a port number from 0 to 65535; ` +
        `postern_log_level (in ${file})=3: expected one of fatal, error, warn, info, debug, trace, silent`,
    );
  });

  it("rejects a missing, malformed or misspelt config file", () => {
    expect(errorOf({}, path.join(dir, "absent.yaml"))).toBe(`config file ${path.join(dir, "absent.yaml")}: no such file`);
    expect(errorOf({}, yamlFile("port: [1, 2"))).toMatch(/^config file .*: .+/);
    expect(errorOf({}, yamlFile("- port\n- 9000\n"))).toMatch(/: the file must hold a mapping of keys$/);
    expect(errorOf({}, yamlFile("just text\n"))).toMatch(/: the file must hold a mapping of keys$/);
    expect(errorOf({}, yamlFile("prot: 9000\nport: 9000\n"))).toMatch(/: unknown key "prot"; keys are the environment names in lower case/);
    expect(errorOf({}, yamlFile("postern_oidc_corp_issuer: https://id.example.com\npostern_oidc_corp_clientid: postern\n"))).toMatch(
      /: unknown key "postern_oidc_corp_clientid"; .*a provider's are postern_oidc_<id>_ and one of issuer, client_id, client_secret, name, groups_claim, allow_signup, link_by_email, scopes$/,
    );
  });

  it("refuses an unknown key in an oidc entry, and an oidc that is not a list of providers", () => {
    // A typo in allow_signup would otherwise leave sign-up open.
    const typo = yamlFile("oidc:\n  - id: corp\n    issuer: https://id.example.com\n    client_id: postern\n    allow_sign_up: false\n");
    expect(errorOf({}, typo)).toBe(
      `config file ${typo}: unknown key oidc[0].allow_sign_up; a provider's keys are id, issuer, client_id, client_secret, name, groups_claim, allow_signup, link_by_email, scopes`,
    );
    const mapping = yamlFile("oidc:\n  corp:\n    issuer: https://id.example.com\n    client_id: postern\n");
    expect(errorOf({}, mapping)).toBe(`config file ${mapping}: oidc must be a list of providers, each starting "- id: <id>", not a mapping`);
    expect(errorOf({}, yamlFile("oidc:\n  - corp\n"))).toMatch(/: oidc\[0\] must be a mapping of a provider's keys \(id, issuer, client_id, /);
    expect(loadConfig({}, yamlFile("oidc:\n")).oidc).toEqual([]);
    const bad = yamlFile("oidc:\n  - id: corp\n    issuer: https://id.example.com\n    client_id: postern\n    link_by_email: maybe\n");
    expect(errorOf({}, bad)).toBe('invalid configuration: oidc[0].link_by_email="maybe": Invalid input: expected boolean, received string');
  });

  it("names a provider's key as written in the file, and refuses a provider set both ways", () => {
    const file = yamlFile("postern_oidc_corp_issuer: not a url\npostern_oidc_corp_client_id: postern\n");
    expect(errorOf({}, file)).toBe(`invalid configuration: postern_oidc_corp_issuer (in ${file})="not a url": Invalid URL`);
    expect(errorOf({ POSTERN_OIDC_CORP_ISSUER: "still not" }, file)).toContain('POSTERN_OIDC_CORP_ISSUER="still not"');
    const twice = yamlFile("postern_oidc_corp_issuer: https://id.example.com\noidc:\n  - id: corp\n    issuer: https://other.example.com\n");
    expect(errorOf({}, twice)).toBe(`config file ${twice}: provider corp is set twice, by postern_oidc_corp_* keys and in the oidc list; keep one`);
  });
});

describe("the generated secret", () => {
  it("is written once, owner-only, with nothing left beside it, and read back at the next start", () => {
    const dataDir = path.join(dir, "secret-new");
    const config = loadConfig({ POSTERN_DATA_DIR: dataDir }, "/dev/null");
    expect(resolveSecret(config, () => "g".repeat(48))).toBe("g".repeat(48));
    expect(fs.readdirSync(dataDir)).toEqual(["secret"]);
    expect(fs.statSync(path.join(dataDir, "secret")).mode & 0o777).toBe(0o600);
    expect(resolveSecret(config, () => "other")).toBe("g".repeat(48));
  });

  it("refuses a secret file shorter than POSTERN_SECRET may be, naming the file and what to do", () => {
    const dataDir = fs.mkdtempSync(path.join(dir, "secret-short-"));
    const file = path.join(dataDir, "secret");
    const config = loadConfig({ POSTERN_DATA_DIR: dataDir }, "/dev/null");
    fs.writeFileSync(file, "\n");
    expect(() => resolveSecret(config, () => "g".repeat(48))).toThrow(
      new ConfigError(
        `${file} holds no secret, expected at least 32: remove it to have one generated at the next start (everyone logs in again), or set POSTERN_SECRET`,
      ),
    );
    fs.writeFileSync(file, "hunter2\n");
    expect(() => resolveSecret(config, () => "g".repeat(48))).toThrow(/holds a secret of 7 characters, expected at least 32/);
    expect(fs.readFileSync(file, "utf8")).toBe("hunter2\n");
  });
});

describe("postern serve with a bad configuration", () => {
  it("refuses to start: exit 1 and one readable line on stderr", async () => {
    const cwd = fs.mkdtempSync(path.join(dir, "cwd-"));
    // postern.yaml in the working directory is read without --config.
    fs.writeFileSync(path.join(cwd, "postern.yaml"), "port: 9000\npostern_tunnel: ngrok\n");
    const res = await postern(["serve"], { POSTERN_DATA_DIR: path.join(cwd, "data") }, cwd);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      "postern: configuration error: invalid configuration: NGROK_AUTHTOKEN=(missing): needed when POSTERN_TUNNEL=ngrok (find yours at https://dashboard.ngrok.com)\n",
    );
    expect(fs.existsSync(path.join(cwd, "data"))).toBe(false);
  });
});
