// The monitoring relay against a real SMTP server (smtp-server on 127.0.0.1) and real databases.
import net from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ZCreatedToken, ZErrorBody, ZMessagePage, ZMessageQueued, ZRelayStatus } from "@postern/contracts";
import { openDatabase, type Prisma } from "@postern/db";
import serviceApp from "../../app";
import { BODY_LIMIT, SHUTDOWN_DEADLINE_MS } from "../../server";
import { ConfigError, loadConfig } from "../../config";
import { watchEvents } from "../../../test/events";
import { verifyAuditChain } from "../audit/audit.service";
import { relaySettingsOf } from "./relay.settings";
import { retryDelayMs } from "./relay.worker";
import { RELAY_RATE_LIMIT, RELAY_USER_RATE_LIMIT } from "./relay.routes";
import { findMessages, relayStatus } from "./relay.service";
import { pruneMessages } from "./relay.retention";
import { createApiToken } from "../tokens/tokens.service";
import { buildTestApp, createUser, testClock, type TestApp, type TestClock } from "../../../test/app";
import { providers } from "../../../test/databases";

interface Mail {
  envelopeFrom: string;
  envelopeTo: string[];
  headers: Record<string, string>;
  body: string;
}

interface Mailbox {
  mails: Mail[];
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Headers (unfolded, lower-case names) and the decoded text body of a raw RFC 5322 mail. */
function parseMail(raw: string): { headers: Record<string, string>; body: string } {
  const split = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, " ");
  const headers: Record<string, string> = {};
  for (const line of head.split("\r\n")) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.slice(split + 4);
  if (headers["content-transfer-encoding"] === "quoted-printable") {
    const bytes = body.replace(/=\r\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    body = Buffer.from(bytes, "latin1").toString("utf8");
  }
  return { headers, body: body.replace(/\r\n/g, "\n") };
}

interface SmtpOptions {
  rejectRecipients?: boolean;
  refuseLogin?: () => boolean;
  /** The answer to RCPT TO for one address (e.g. 451 while greylisting), or undefined to accept it. */
  answerRecipient?: (address: string) => { code: number; text: string } | undefined;
}

/** A real SMTP server on 127.0.0.1 that keeps what it receives (or rejects every recipient). */
async function startSmtp(port: number, options: SmtpOptions = {}): Promise<Mailbox> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: !options.refuseLogin,
    allowInsecureAuth: true,
    disabledCommands: options.refuseLogin ? ["STARTTLS"] : ["STARTTLS", "AUTH"],
    logger: false,
    onAuth(_auth, _session, callback) {
      if (options.refuseLogin?.()) return callback(Object.assign(new Error("5.7.8 authentication failed"), { responseCode: 535 }));
      callback(null, { user: "postern" });
    },
    onRcptTo(address, _session, callback) {
      const answer = options.answerRecipient?.(address.address);
      if (answer) return callback(Object.assign(new Error(answer.text), { responseCode: answer.code }));
      if (!options.rejectRecipients) return callback();
      const err = Object.assign(new Error("5.1.1 mailbox unavailable"), { responseCode: 550 });
      callback(err);
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const from = session.envelope.mailFrom;
        mails.push({
          envelopeFrom: from ? from.address : "",
          envelopeTo: session.envelope.rcptTo.map((r) => r.address),
          ...parseMail(Buffer.concat(chunks).toString("utf8")),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return { mails, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Greets, then never answers: a hung MTA, a half-dead TCP path. `sockets` holds every connection it took. */
async function startHungSmtp(port: number): Promise<Mailbox & { sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const hung = net.createServer((socket) => {
    sockets.add(socket);
    socket.write("220 mail.example.test ESMTP\r\n");
    socket.on("data", () => undefined);
  });
  await new Promise<void>((resolve) => hung.listen(port, "127.0.0.1", resolve));
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => hung.close(resolve));
  };
  return { mails: [], sockets, close };
}

function relayEnv(port: number): Record<string, string> {
  return {
    SMTP_URL: `smtp://127.0.0.1:${port}`,
    POSTERN_MAIL_FROM: "Postern <postern@example.test>",
    POSTERN_RELAY_TO: "ops@example.test, oncall@example.test",
  };
}

/** A second API instance on the same database, as behind a load balancer. */
async function startInstance(t: TestApp, now?: () => Date): Promise<FastifyInstance> {
  const opened = await openDatabase(t.url, { poolSize: 4 });
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT });
  await app.register(fp(serviceApp), { config: t.config, database: opened, secret: t.config.secret ?? "", now });
  app.addHook("onClose", async () => opened.close());
  await app.ready();
  return app;
}

async function serviceToken(app: FastifyInstance, scopes: ("relay:send" | "sessions:read")[] = ["relay:send"]) {
  const { token, row } = await createApiToken(app.ctx, { actor: null }, { name: `monitor-${Math.random().toString(36).slice(2, 7)}`, scopes, userId: null });
  return { token, id: row.id, headers: { authorization: `Bearer ${token}` } };
}

async function post(app: FastifyInstance, headers: Record<string, string>, payload: unknown, url = "/api/messages") {
  return app.inject({ method: "POST", url, headers, payload: payload as Record<string, unknown> });
}

const statusOf = async (app: FastifyInstance, id: string) => (await app.ctx.db.message.findUniqueOrThrow({ where: { id } })).status;

describe.each(providers)("monitoring relay on %s", (provider) => {
  let t: TestApp | undefined;
  let clock: TestClock;
  const mailboxes: Mailbox[] = [];
  const extraApps: FastifyInstance[] = [];

  beforeEach(() => {
    clock = testClock();
  });
  afterEach(async () => {
    for (const app of extraApps.splice(0)) await app.close();
    await t?.close();
    t = undefined;
    for (const m of mailboxes.splice(0)) await m.close();
  });

  async function setup(options: { smtp?: "up" | "down" | "reject" } = {}) {
    const port = await freePort();
    if (options.smtp !== "down") mailboxes.push(await startSmtp(port, { rejectRecipients: options.smtp === "reject" }));
    t = await buildTestApp(provider, { now: clock.now, env: relayEnv(port) });
    return { t, port, mailbox: mailboxes[0] };
  }

  it("stores the message, answers 202 and e-mails it with its subject and body", async () => {
    const { t, mailbox } = await setup();
    const watched = watchEvents(t.app);
    const monitor = await serviceToken(t.app);

    const res = await post(t.app, monitor.headers, {
      subject: "Disk almost full on nas-1",
      message: "/volume1 is 93% full.\nFree space: 71 GiB.",
      severity: "warning",
    });
    expect(res.statusCode).toBe(202);
    const { id, status } = ZMessageQueued.parse(res.json());
    expect(status).toBe("queued");

    await expect.poll(() => statusOf(t.app, id), { timeout: 10_000 }).toBe("sent");
    expect(mailbox!.mails).toHaveLength(1);
    const mail = mailbox!.mails[0]!;
    expect(mail.envelopeFrom).toBe("postern@example.test");
    expect(mail.envelopeTo.sort()).toEqual(["oncall@example.test", "ops@example.test"]);
    expect(mail.headers.subject).toBe("[Postern WARNING] Disk almost full on nas-1");
    expect(mail.headers["x-postern-message-id"]).toBe(id);
    expect(mail.body).toContain("/volume1 is 93% full.\nFree space: 71 GiB.");

    const admin = await createUser(t.app, { role: "admin" });
    const list = ZMessagePage.parse((await t.app.inject({ method: "GET", url: "/api/messages", headers: admin.headers })).json());
    expect(list.items).toMatchObject([{ id, status: "sent", attempts: 1, severity: "warning", subject: "Disk almost full on nas-1" }]);
    expect(list.items[0]!.sentAt).toBeDefined();
    const relay = ZRelayStatus.parse((await t.app.inject({ method: "GET", url: "/api/messages/status", headers: admin.headers })).json());
    expect(relay).toMatchObject({ enabled: true, recipients: 2, queued: 0, sent: 1, failed: 0 });

    const events = await t.app.ctx.db.auditEvent.findMany({ where: { target: `message:${id}` }, orderBy: { seq: "asc" } });
    expect(events.map((e) => e.action)).toEqual(["message.queued", "message.sent"]);
    expect(events[0]!.actorId).toBe(`token:${monitor.id}`);
    expect(watched.events.filter((e) => e.type.startsWith("message.")).map((e) => e.type)).toEqual(["message.queued", "message.sent"]);
  });

  it("accepts the compatibility route with x-access-tokens and a logged-in user", async () => {
    const { t, mailbox } = await setup();
    const monitor = await serviceToken(t.app);
    const legacy = await post(t.app, { "x-access-tokens": monitor.token }, { message: "backup job failed\nexit code 2", host: "old-field" }, "/api/placeMessage");
    expect(legacy.statusCode).toBe(202);
    const member = await createUser(t.app);
    const byUser = await post(t.app, member.headers, { message: "VPN customer-A flapping", severity: "critical" });
    expect(byUser.statusCode).toBe(202);

    const ids = [ZMessageQueued.parse(legacy.json()).id, ZMessageQueued.parse(byUser.json()).id];
    for (const id of ids) await expect.poll(() => statusOf(t.app, id), { timeout: 10_000 }).toBe("sent");
    const subjects = mailbox!.mails.map((m) => m.headers.subject).sort();
    expect(subjects).toEqual(["[Postern CRITICAL] VPN customer-A flapping", "[Postern] backup job failed"]);
    const byMember = await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { target: `message:${ids[1]}`, action: "message.queued" } });
    expect(byMember.actorUsername).toBe(member.username);
  });

  it("retries while SMTP is down and delivers exactly once when it is back", async () => {
    const { t, port } = await setup({ smtp: "down" });
    const monitor = await serviceToken(t.app);
    const res = await post(t.app, monitor.headers, { message: "UPS on battery" });
    const { id } = ZMessageQueued.parse(res.json());

    // attempts counts up when the worker claims the message; lastError lands when the attempt fails.
    await expect
      .poll(async () => (await t.app.ctx.db.message.findUniqueOrThrow({ where: { id } })).lastError, { timeout: 10_000 })
      .toMatch(/ECONNREFUSED/);
    const waiting = await t.app.ctx.db.message.findUniqueOrThrow({ where: { id } });
    expect(waiting.status).toBe("queued");
    expect(waiting.attempts).toBe(1);
    expect(waiting.lastError).toMatch(/ECONNREFUSED/);
    expect(waiting.nextAttemptAt.getTime()).toBeGreaterThan(clock.now().getTime());
    const admin = await createUser(t.app, { role: "admin" });
    const relay = ZRelayStatus.parse((await t.app.inject({ method: "GET", url: "/api/messages/status", headers: admin.headers })).json());
    expect(relay).toMatchObject({ queued: 1, lastError: expect.stringMatching(/ECONNREFUSED/) });

    const mailbox = await startSmtp(port);
    mailboxes.push(mailbox);
    clock.advance(5 * 60_000);
    t.app.relay.poke();
    await expect.poll(() => statusOf(t.app, id), { timeout: 10_000 }).toBe("sent");
    // Give a duplicate every chance to appear.
    clock.advance(60 * 60_000);
    t.app.relay.poke();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(mailbox.mails).toHaveLength(1);
    expect(mailbox.mails[0]!.headers.subject).toBe("[Postern] UPS on battery");
    const sent = await t.app.ctx.db.message.findUniqueOrThrow({ where: { id } });
    expect(sent).toMatchObject({ attempts: 2, lastError: null, lockedUntil: null });
  });

  it("keeps queued messages across an API restart and delivers each once", async () => {
    const { t, port } = await setup({ smtp: "down" });
    const monitor = await serviceToken(t.app);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(ZMessageQueued.parse((await post(t.app, monitor.headers, { message: `alert ${i}` })).json()).id);
    await expect
      .poll(async () => t.app.ctx.db.message.count({ where: { attempts: 1, lockedUntil: null } }), { timeout: 10_000 })
      .toBe(3);

    await t.app.close();
    const mailbox = await startSmtp(port);
    mailboxes.push(mailbox);
    clock.advance(5 * 60_000);
    await t.restart();
    for (const id of ids) await expect.poll(() => statusOf(t.app, id), { timeout: 10_000 }).toBe("sent");

    // A message queued right before a restart goes out once as well.
    const last = ZMessageQueued.parse((await post(t.app, monitor.headers, { message: "queued, then restart" })).json()).id;
    await t.restart();
    await expect.poll(() => statusOf(t.app, last), { timeout: 10_000 }).toBe("sent");
    t.app.relay.poke();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const delivered = mailbox.mails.map((m) => m.headers["x-postern-message-id"]).sort();
    expect(delivered).toEqual([...ids, last].sort());
    expect((await verifyAuditChain(t.app.ctx)).firstBreak).toBeUndefined();
  });

  it("gives up after the last attempt and records each retry and the failure", async () => {
    const { t } = await setup({ smtp: "down" });
    const monitor = await serviceToken(t.app);
    const { id } = ZMessageQueued.parse((await post(t.app, monitor.headers, { message: "nobody hears this" })).json());
    for (let attempt = 1; attempt <= 8; attempt++) {
      // Claimed (attempts counted) and its failure recorded (lock released) before time moves on.
      await expect
        .poll(async () => {
          const row = await t.app.ctx.db.message.findUniqueOrThrow({ where: { id } });
          return row.lockedUntil === null ? row.attempts : -1;
        }, { timeout: 10_000 })
        .toBe(attempt);
      clock.advance(60 * 60_000);
      t.app.relay.poke();
    }
    await expect.poll(() => statusOf(t.app, id), { timeout: 10_000 }).toBe("failed");
    const failed = await t.app.ctx.db.message.findUniqueOrThrow({ where: { id } });
    expect(failed.attempts).toBe(8);
    expect(failed.lastError).toMatch(/ECONNREFUSED/);
    const actions = (await t.app.ctx.db.auditEvent.findMany({ where: { target: `message:${id}` }, orderBy: { seq: "asc" } })).map((e) => e.action);
    expect(actions).toEqual(["message.queued", ...Array<string>(7).fill("message.retrying"), "message.failed"]);
  });

  it("marks a message failed at once when the server rejects it (5xx)", async () => {
    const { t, mailbox } = await setup({ smtp: "reject" });
    const monitor = await serviceToken(t.app);
    const { id } = ZMessageQueued.parse((await post(t.app, monitor.headers, { message: "to a dead mailbox" })).json());
    await expect.poll(() => statusOf(t.app, id), { timeout: 10_000 }).toBe("failed");
    const failed = await t.app.ctx.db.message.findUniqueOrThrow({ where: { id } });
    expect(failed.attempts).toBe(1);
    expect(failed.lastError).toMatch(/550|mailbox unavailable/);
    expect(mailbox!.mails).toHaveLength(0);
  });

  it("retries a recipient deferred at RCPT TO (451) alone, across a restart, and is sent once both have it", async () => {
    const port = await freePort();
    let greylisting = true;
    const mailbox = await startSmtp(port, {
      answerRecipient: (a) => (a === "oncall@example.test" && greylisting ? { code: 451, text: "4.7.1 greylisted, try again later" } : undefined),
    });
    mailboxes.push(mailbox);
    t = await buildTestApp(provider, { now: clock.now, env: relayEnv(port) });
    const monitor = await serviceToken(t.app);
    const { id } = ZMessageQueued.parse((await post(t.app, monitor.headers, { message: "UPS on battery" })).json());
    await expect.poll(async () => (await t!.app.ctx.db.message.findUniqueOrThrow({ where: { id } })).lastError, { timeout: 10_000 }).toMatch(/451/);
    const admin = await createUser(t.app, { role: "admin" });
    const waiting = ZMessagePage.parse((await t.app.inject({ method: "GET", url: "/api/messages", headers: admin.headers })).json()).items[0]!;
    expect(waiting).toMatchObject({ status: "queued", deliveredTo: ["ops@example.test"] });
    expect(waiting.lastError).toBe("not delivered to oncall@example.test: 451 4.7.1 greylisted, try again later (delivered to ops@example.test)");
    expect(mailbox.mails.map((m) => m.envelopeTo)).toEqual([["ops@example.test"]]);

    // Who has it is in the database: a restarted instance sends only to the one still waiting.
    await t.restart();
    greylisting = false;
    clock.advance(60 * 60_000);
    t.app.relay.poke();
    await expect.poll(() => statusOf(t!.app, id), { timeout: 10_000 }).toBe("sent");
    expect(mailbox.mails.map((m) => m.envelopeTo)).toEqual([["ops@example.test"], ["oncall@example.test"]]);
    expect(mailbox.mails[1]!.headers.to).toBe("ops@example.test, oncall@example.test");
    const sent = await t.app.ctx.db.message.findUniqueOrThrow({ where: { id } });
    expect(sent).toMatchObject({ attempts: 2, lastError: null, deliveredTo: "ops@example.test oncall@example.test", refusedTo: null });
    const events = await t.app.ctx.db.auditEvent.findMany({ where: { target: `message:${id}` }, orderBy: { seq: "asc" } });
    expect(events.map((e) => [e.action, JSON.parse(e.details ?? "{}").recipients])).toEqual([
      ["message.queued", undefined],
      ["message.retrying", 1],
      ["message.sent", 2],
    ]);
  });

  it("fails a message one recipient refused (550), naming them, after the others have it", async () => {
    const port = await freePort();
    let greylisting = true;
    const mailbox = await startSmtp(port, {
      answerRecipient: (a) =>
        a === "ops@example.test"
          ? { code: 550, text: "5.1.1 mailbox unavailable" }
          : greylisting
            ? { code: 451, text: "4.7.1 greylisted, try again later" }
            : undefined,
    });
    mailboxes.push(mailbox);
    t = await buildTestApp(provider, { now: clock.now, env: relayEnv(port) });
    const monitor = await serviceToken(t.app);
    const { id } = ZMessageQueued.parse((await post(t.app, monitor.headers, { message: "UPS on battery" })).json());
    // Every recipient turned away, one for good and one for now: the message waits for the other.
    await expect.poll(async () => (await t!.app.ctx.db.message.findUniqueOrThrow({ where: { id } })).lastError, { timeout: 10_000 }).toMatch(/550/);
    const first = await t.app.ctx.db.message.findUniqueOrThrow({ where: { id } });
    expect(first).toMatchObject({ status: "queued", attempts: 1, refusedTo: "ops@example.test", deliveredTo: null });
    expect(first.lastError).toBe(
      "not delivered to ops@example.test: refused: 550 5.1.1 mailbox unavailable; oncall@example.test: 451 4.7.1 greylisted, try again later",
    );

    // The server's answer to each is kept with the message: a restarted instance still has it.
    await t.restart();
    greylisting = false;
    clock.advance(60 * 60_000);
    t.app.relay.poke();
    await expect.poll(() => statusOf(t!.app, id), { timeout: 10_000 }).toBe("failed");
    expect(mailbox.mails.map((m) => m.envelopeTo)).toEqual([["oncall@example.test"]]);
    const failed = await t.app.ctx.db.message.findUniqueOrThrow({ where: { id } });
    expect(failed).toMatchObject({ attempts: 2, deliveredTo: "oncall@example.test", sentAt: null });
    expect(failed.lastError).toBe("not delivered to ops@example.test: refused: 550 5.1.1 mailbox unavailable (delivered to oncall@example.test)");
    const last = await t.app.ctx.db.auditEvent.findFirstOrThrow({ where: { target: `message:${id}` }, orderBy: { seq: "desc" } });
    expect([last.action, JSON.parse(last.details ?? "{}")]).toMatchObject(["message.failed", { recipients: 1, permanent: true }]);
  });

  it("stops well within the shutdown deadline while the SMTP server hangs, leaving the message to another instance at once", async () => {
    const port = await freePort();
    const hung = await startHungSmtp(port);
    mailboxes.push(hung);
    const { sockets } = hung;
    t = await buildTestApp(provider, { now: clock.now, env: relayEnv(port) });
    const monitor = await serviceToken(t.app);
    const { id } = ZMessageQueued.parse((await post(t.app, monitor.headers, { message: "UPS on battery" })).json());
    await expect.poll(() => sockets.size, { timeout: 10_000 }).toBe(1);

    const started = Date.now();
    await t.app.close();
    expect(Date.now() - started).toBeLessThan(SHUTDOWN_DEADLINE_MS / 4);
    await mailboxes.pop()!.close();
    const mailbox = await startSmtp(port);
    mailboxes.push(mailbox);

    // The clock has not moved: the lease the stopped instance took was given back, and the message is due.
    t.app = await startInstance(t, clock.now);
    await expect.poll(() => statusOf(t!.app, id), { timeout: 10_000 }).toBe("sent");
    expect(mailbox.mails).toHaveLength(1);
    const events = await t.app.ctx.db.auditEvent.findMany({ where: { target: `message:${id}` }, orderBy: { seq: "asc" } });
    expect(events.map((e) => e.action)).toEqual(["message.queued", "message.retrying", "message.sent"]);
    expect(JSON.parse(events[1]!.details ?? "{}").error).toMatch(/cut short by Postern shutting down/);
  });

  it("does not count attempts cut short by shutdown toward the limit, and retries the message after each restart", async () => {
    const port = await freePort();
    const hung = await startHungSmtp(port);
    mailboxes.push(hung);
    t = await buildTestApp(provider, { now: clock.now, env: relayEnv(port) });
    const monitor = await serviceToken(t.app);
    const { id } = ZMessageQueued.parse((await post(t.app, monitor.headers, { message: "UPS on battery" })).json());
    // More restarts than the message has attempts, each in the middle of an attempt (the clock
    // does not move: an interrupted attempt is retried at once).
    for (let restart = 1; restart <= 9; restart++) {
      await expect.poll(() => hung.sockets.size, { timeout: 10_000 }).toBe(restart);
      await t.restart();
    }
    await expect.poll(() => hung.sockets.size, { timeout: 10_000 }).toBe(10);
    await t.app.close();
    const interrupted = await openDatabase(t.url, { poolSize: 1 });
    const row = await interrupted.db.message.findUniqueOrThrow({ where: { id } });
    await interrupted.close();
    expect(row).toMatchObject({ status: "queued", attempts: 0, lockedUntil: null });
    expect(row.lastError).toMatch(/cut short by Postern shutting down/);

    // The server is gone now: a real attempt, the first that counts, and the message still waits.
    await mailboxes.pop()!.close();
    t.app = await startInstance(t, clock.now);
    await expect.poll(async () => (await t!.app.ctx.db.message.findUniqueOrThrow({ where: { id } })).lastError, { timeout: 10_000 }).toMatch(/ECONNREFUSED/);
    expect(await t.app.ctx.db.message.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: "queued", attempts: 1 });
    const mailbox = await startSmtp(port);
    mailboxes.push(mailbox);
    clock.advance(5 * 60_000);
    t.app.relay.poke();
    await expect.poll(() => statusOf(t!.app, id), { timeout: 10_000 }).toBe("sent");
    expect(await t.app.ctx.db.message.findUniqueOrThrow({ where: { id } })).toMatchObject({ attempts: 2, lastError: null });
    expect(mailbox.mails).toHaveLength(1);
  });

  it("keeps messages queued while the SMTP login is refused, and delivers them once it is mended", async () => {
    const port = await freePort();
    let passwordWrong = true;
    const mailbox = await startSmtp(port, { refuseLogin: () => passwordWrong });
    mailboxes.push(mailbox);
    t = await buildTestApp(provider, { now: clock.now, env: { ...relayEnv(port), SMTP_URL: `smtp://postern:secret@127.0.0.1:${port}` } });
    const app = t.app;
    const monitor = await serviceToken(app);
    const { id } = ZMessageQueued.parse((await post(app, monitor.headers, { message: "disk almost full" })).json());
    await expect.poll(async () => (await app.ctx.db.message.findUniqueOrThrow({ where: { id } })).lastError, { timeout: 10_000 }).toMatch(/535|authentication failed/);
    expect(await statusOf(app, id)).toBe("queued");

    passwordWrong = false;
    clock.advance(5 * 60_000);
    app.relay.poke();
    await expect.poll(() => statusOf(app, id), { timeout: 10_000 }).toBe("sent");
    expect(mailbox.mails).toHaveLength(1);
  });

  it("limits each token to 30 messages a minute (429 with Retry-After)", async () => {
    const { t } = await setup();
    const noisy = await serviceToken(t.app);
    const quiet = await serviceToken(t.app);
    for (let i = 0; i < 30; i++) {
      const res = await post(t.app, noisy.headers, { message: `flood ${i}` });
      expect(res.statusCode).toBe(202);
    }
    const limited = await post(t.app, noisy.headers, { message: "one too many" });
    expect(limited.statusCode).toBe(429);
    expect(ZErrorBody.parse(limited.json()).error.code).toBe("rate_limited");
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(await t.app.ctx.db.message.count({ where: { tokenId: noisy.id } })).toBe(30);
    // Keyed by token: another token is unaffected.
    expect((await post(t.app, quiet.headers, { message: "all fine here" })).statusCode).toBe(202);
  });

  it("counts a token's messages on both sending routes together, and a member's over all their tokens", async () => {
    const { t } = await setup();
    const monitor = await serviceToken(t.app);
    for (let i = 0; i < RELAY_RATE_LIMIT; i++) {
      const url = i % 2 ? "/api/placeMessage" : "/api/messages";
      expect((await post(t.app, monitor.headers, { message: `half and half ${i}` }, url)).statusCode).toBe(202);
    }
    expect((await post(t.app, monitor.headers, { message: "one too many" }, "/api/placeMessage")).statusCode).toBe(429);
    expect((await post(t.app, monitor.headers, { message: "one too many" })).statusCode).toBe(429);

    // A member minting tokens gets no more than their own allowance.
    const member = await createUser(t.app);
    const tokens: Record<string, string>[] = [];
    for (let i = 0; i < RELAY_USER_RATE_LIMIT / RELAY_RATE_LIMIT + 1; i++) {
      const res = await t.app.inject({ method: "POST", url: "/api/tokens", headers: member.headers, payload: { name: `m${i}`, scopes: ["relay:send"] } });
      tokens.push({ authorization: `Bearer ${ZCreatedToken.parse(res.json()).token}` });
    }
    const answers: number[] = [];
    for (const headers of tokens) {
      for (let i = 0; i < RELAY_RATE_LIMIT; i++) answers.push((await post(t.app, headers, { message: `from a minted token ${i}` })).statusCode);
    }
    expect(answers.filter((c) => c === 202)).toHaveLength(RELAY_USER_RATE_LIMIT);
    expect(answers.slice(RELAY_USER_RATE_LIMIT).every((c) => c === 429)).toBe(true);
  });

  it("rejects an oversized body (413), a bad message (400 naming body.message) and a body not in UTF-8", async () => {
    const { t } = await setup();
    const monitor = await serviceToken(t.app);
    const huge = await post(t.app, monitor.headers, { message: "x".repeat(20 * 1024) });
    expect(huge.statusCode).toBe(413);
    expect(ZErrorBody.parse(huge.json()).error.code).toBe("payload_too_large");

    const long = await post(t.app, monitor.headers, { message: "y".repeat(9000) });
    expect(long.statusCode).toBe(400);
    expect(ZErrorBody.parse(long.json()).error.message).toContain("body.message");

    const empty = await post(t.app, monitor.headers, { message: "   " });
    expect(empty.statusCode).toBe(400);
    expect(ZErrorBody.parse(empty.json()).error.message).toContain("body.message");

    // An old monitor sending ISO-8859-1 ("café", é the single byte 0xE9) is told, not stored as "caf\ufffd".
    const latin1 = Buffer.concat([Buffer.from('{"message":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const notUtf8 = await t.app.inject({ method: "POST", url: "/api/messages", headers: { ...monitor.headers, "content-type": "application/json" }, payload: latin1 });
    expect(notUtf8.statusCode).toBe(400);
    expect(ZErrorBody.parse(notUtf8.json()).error.details).toEqual([{ field: "body", message: expect.stringContaining("UTF-8") }]);
    const plainLatin1 = await t.app.inject({ method: "POST", url: "/api/placeMessage", headers: { ...monitor.headers, "content-type": "text/plain" }, payload: Buffer.from([0x63, 0x61, 0x66, 0xe9]) });
    expect(plainLatin1.statusCode).toBe(400);
    expect(ZErrorBody.parse(plainLatin1.json()).error.details).toEqual([{ field: "body", message: expect.stringContaining("UTF-8") }]);

    const badSubject = await post(t.app, monitor.headers, { message: "m", subject: "two\nlines" });
    expect(badSubject.statusCode).toBe(400);
    expect(ZErrorBody.parse(badSubject.json()).error.message).toContain("body.subject");
    expect(await t.app.ctx.db.message.count()).toBe(0);
  });

  it("answers 403 to a token without relay:send and 401 without credentials", async () => {
    const { t } = await setup();
    const reader = await serviceToken(t.app, ["sessions:read"]);
    const wrong = await post(t.app, reader.headers, { message: "hello" });
    expect(wrong.statusCode).toBe(403);
    expect(ZErrorBody.parse(wrong.json()).error.message).toContain("relay:send");
    expect((await post(t.app, {}, { message: "hello" })).statusCode).toBe(401);
    const legacyWrong = await post(t.app, { "x-access-tokens": reader.token }, { message: "hello" }, "/api/placeMessage");
    expect(legacyWrong.statusCode).toBe(403);
    const member = await createUser(t.app);
    expect((await t.app.inject({ method: "GET", url: "/api/messages", headers: member.headers })).statusCode).toBe(403);
    expect(await t.app.ctx.db.message.count()).toBe(0);
  });

  it("says clearly that the relay is off (503) and stores nothing", async () => {
    t = await buildTestApp(provider, { now: clock.now });
    const monitor = await serviceToken(t.app);
    const res = await post(t.app, monitor.headers, { message: "is anyone there?" });
    expect(res.statusCode).toBe(503);
    const body = ZErrorBody.parse(res.json());
    expect(body.error.code).toBe("service_unavailable");
    expect(body.error.message).toMatch(/relay is off: set SMTP_URL.*POSTERN_RELAY_TO/);
    expect(await t.app.ctx.db.message.count()).toBe(0);
    const admin = await createUser(t.app, { role: "admin" });
    const relay = ZRelayStatus.parse((await t.app.inject({ method: "GET", url: "/api/messages/status", headers: admin.headers })).json());
    expect(relay).toMatchObject({ enabled: false, reason: expect.stringContaining("SMTP_URL") });
  });

  it("pages through messages newest first", async () => {
    const { t } = await setup();
    const monitor = await serviceToken(t.app);
    for (let i = 0; i < 5; i++) {
      await post(t.app, monitor.headers, { message: `m${i}` });
      clock.advance(1000);
    }
    const admin = await createUser(t.app, { role: "admin" });
    const first = ZMessagePage.parse((await t.app.inject({ method: "GET", url: "/api/messages?limit=3", headers: admin.headers })).json());
    expect(first.items.map((m) => m.message)).toEqual(["m4", "m3", "m2"]);
    const second = ZMessagePage.parse(
      (await t.app.inject({ method: "GET", url: `/api/messages?limit=3&cursor=${first.nextCursor}`, headers: admin.headers })).json(),
    );
    expect(second.items.map((m) => m.message)).toEqual(["m1", "m0"]);
    expect(second.nextCursor).toBeUndefined();
    const bad = await t.app.inject({ method: "GET", url: "/api/messages?cursor=nonsense", headers: admin.headers });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain("querystring.cursor");
  });

  it("reads pages and the summary in plain SQL as Prisma did: every field, ties in time by id", async () => {
    // No relay configured: no worker claims the rows while they are read.
    const app = (t = await buildTestApp(provider, { now: clock.now })).app;
    const db = app.ctx.db;
    const at = new Date("2026-11-20T08:00:00.123Z");
    const later = new Date("2026-11-20T09:30:00.000Z");
    const rows = [
      { status: "queued", createdAt: at, nextAttemptAt: later, lastError: "421 try later", attempts: 2, lockedUntil: later },
      { status: "queued", createdAt: at, nextAttemptAt: at, subject: "disk ✓ \"full\"", severity: "critical", tokenId: "t-1" },
      { status: "sent", createdAt: at, nextAttemptAt: at, sentAt: later, attempts: 1 },
      { status: "sent", createdAt: later, nextAttemptAt: later, sentAt: new Date(later.getTime() + 1), attempts: 1 },
      { status: "failed", createdAt: later, nextAttemptAt: later, lastError: "550 no such user", attempts: 5 },
    ];
    for (const [i, row] of rows.entries()) await db.message.create({ data: { message: `m${i}`, ...row } });

    const viaPrisma = (where: Prisma.MessageWhereInput, take = 100) =>
      db.message.findMany({ where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take });
    expect((await findMessages(app.ctx, {})).rows).toEqual(await viaPrisma({}));
    expect((await findMessages(app.ctx, { status: "queued" })).rows).toEqual(await viaPrisma({ status: "queued" }));
    const first = await findMessages(app.ctx, { limit: 2 });
    expect(first.rows).toEqual(await viaPrisma({}, 2));
    const last = first.rows[1]!;
    const second = await findMessages(app.ctx, { limit: 2, cursor: first.nextCursor });
    expect(second.rows).toEqual(
      await viaPrisma({ OR: [{ createdAt: { lt: last.createdAt } }, { createdAt: last.createdAt, id: { lt: last.id } }] }, 2),
    );

    const settings = relaySettingsOf({ smtpUrl: "smtp://127.0.0.1:25", mailFrom: "postern@example.test", relayTo: "a@example.test, b@example.test" });
    expect(await relayStatus(app.ctx, settings)).toEqual({
      enabled: true,
      reason: undefined,
      recipients: 2,
      queued: 2,
      failed: 1,
      sent: 2,
      lastSentAt: new Date(later.getTime() + 1).toISOString(),
      lastError: "421 try later",
    });
    await db.message.deleteMany({});
    expect(await relayStatus(app.ctx, settings)).toMatchObject({ queued: 0, failed: 0, sent: 0, lastSentAt: undefined, lastError: undefined });
  });

  it("deletes sent and failed messages older than POSTERN_RELAY_RETAIN_DAYS at start, never a queued one", async () => {
    // No relay configured: no worker touches the rows; old messages are pruned all the same.
    t = await buildTestApp(provider, { now: clock.now, env: { POSTERN_RELAY_RETAIN_DAYS: "7" } });
    const db = t.app.ctx.db;
    const daysAgo = (days: number) => new Date(clock.now().getTime() - days * 86_400_000);
    const rows = {
      oldSent: { status: "sent", createdAt: daysAgo(8), sentAt: daysAgo(8) },
      oldFailed: { status: "failed", createdAt: daysAgo(30), lastError: "550 no such user" },
      oldQueued: { status: "queued", createdAt: daysAgo(400), lastError: "421 try later" },
      recentSent: { status: "sent", createdAt: daysAgo(6), sentAt: daysAgo(6) },
      recentFailed: { status: "failed", createdAt: daysAgo(1) },
    };
    const ids: Record<string, string> = {};
    for (const [name, row] of Object.entries(rows)) ids[name] = (await db.message.create({ data: { message: name, nextAttemptAt: row.createdAt, ...row } })).id;

    await t.restart();
    const kept = () => t!.app.ctx.db.message.findMany({ orderBy: { message: "asc" }, select: { message: true } });
    await expect.poll(async () => (await kept()).map((m) => m.message), { timeout: 10_000 }).toEqual(["oldQueued", "recentFailed", "recentSent"]);
    // Pruning again (another instance, the next hour) finds nothing more to delete.
    expect(await pruneMessages(t.app.ctx, 7)).toBe(0);
    // 0 keeps everything, however old.
    clock.advance(3650 * 86_400_000);
    expect(await pruneMessages(t.app.ctx, 0)).toBe(0);
    expect(await t.app.ctx.db.message.count()).toBe(3);
    expect(await pruneMessages(t.app.ctx, 30)).toBe(2);
    expect((await kept()).map((m) => m.message)).toEqual(["oldQueued"]);
  });

  it.runIf(provider === "postgres")("delivers each message once with two API instances working the queue", async () => {
    const { t, mailbox } = await setup();
    const second = await startInstance(t, clock.now);
    extraApps.push(second);
    const monitor = await serviceToken(t.app);
    const sends = Array.from({ length: 12 }, (_, i) => post(i % 2 ? second : t.app, monitor.headers, { message: `parallel ${i}` }));
    const ids = (await Promise.all(sends)).map((r) => ZMessageQueued.parse(r.json()).id);
    t.app.relay.poke();
    second.relay.poke();
    await expect.poll(() => t.app.ctx.db.message.count({ where: { status: "sent" } }), { timeout: 15_000 }).toBe(12);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const delivered = mailbox!.mails.map((m) => m.headers["x-postern-message-id"]).sort();
    expect(delivered).toEqual([...ids].sort());
    expect((await verifyAuditChain(t.app.ctx)).firstBreak).toBeUndefined();
  });
});

describe("relay settings", () => {
  const load = (env: Record<string, string>) => loadConfig({ DATABASE_URL: "file:/tmp/unused.db", ...env }, "/dev/null");

  it("is off until SMTP_URL, POSTERN_MAIL_FROM and POSTERN_RELAY_TO are set, and says which are missing", () => {
    const off = relaySettingsOf(load({ SMTP_URL: "smtp://mail.example.com:587" }));
    expect(off).toMatchObject({ enabled: false, reason: expect.stringContaining("missing: POSTERN_MAIL_FROM, POSTERN_RELAY_TO") });
    const on = relaySettingsOf(load({ ...relayEnv(2525), POSTERN_RELAY_TO: "a@example.test, b@example.test," }));
    expect(on).toEqual({ enabled: true, smtpUrl: "smtp://127.0.0.1:2525", from: "Postern <postern@example.test>", to: ["a@example.test", "b@example.test"] });
  });

  it("rejects malformed values at start-up, naming the variable and hiding the SMTP password", () => {
    expect(() => load({ SMTP_URL: "mail.example.com" })).toThrow(ConfigError);
    expect(() => load({ SMTP_URL: "http://user:s3cret@mail.example.com" })).toThrow(/SMTP_URL=\(hidden\): an smtp:\/\/ or smtps:\/\/ URL/);
    expect(() => load({ SMTP_URL: "http://user:s3cret@mail.example.com" })).not.toThrow(/s3cret/);
    expect(() => load({ POSTERN_RELAY_TO: "ops" })).toThrow(/POSTERN_RELAY_TO="ops": comma-separated e-mail addresses/);
    expect(() => load({ POSTERN_MAIL_FROM: "Postern" })).toThrow(/POSTERN_MAIL_FROM/);
  });

  it("keeps sent and failed messages 30 days unless POSTERN_RELAY_RETAIN_DAYS says otherwise, and rejects a bad value", () => {
    expect(load({}).relayRetainDays).toBe(30);
    expect(load({ POSTERN_RELAY_RETAIN_DAYS: "0" }).relayRetainDays).toBe(0);
    expect(load({ POSTERN_RELAY_RETAIN_DAYS: "365" }).relayRetainDays).toBe(365);
    for (const bad of ["-1", "30d", "1.5", "forever"]) {
      expect(() => load({ POSTERN_RELAY_RETAIN_DAYS: bad })).toThrow(`POSTERN_RELAY_RETAIN_DAYS=${JSON.stringify(bad)}: expected a whole number of days`);
    }
  });

  it("backs off exponentially with jitter, up to the maximum", () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, 15_000, 1_800_000, mid))).toEqual([15_000, 30_000, 60_000, 120_000]);
    expect(retryDelayMs(20, 15_000, 1_800_000, mid)).toBe(1_800_000);
    expect(retryDelayMs(1, 15_000, 1_800_000, () => 0)).toBe(12_000);
    expect(retryDelayMs(1, 15_000, 1_800_000, () => 1)).toBe(18_000);
  });
});
