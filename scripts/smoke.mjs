// Smoke test of a running Postern, from the outside, as a user would: log in, create a service,
// watch the live board, start and end a session, and check the audit chain. The container
// workflow runs it through nginx in front of the compose stack; the test suite runs it against
// local servers started the way the image and `pnpm start` start them.
//
//   POSTERN_SMOKE_URL=http://localhost:8080 POSTERN_SMOKE_USER=admin POSTERN_SMOKE_PASSWORD=… \
//     node scripts/smoke.mjs [--live-url http://other-instance:8080]
//
// With --live-url the live stream is read from another address (another API instance): the
// session started through one instance must reach a browser connected to the other.
// Exit 0 and one line per step on success; exit 1 naming the failed step otherwise.
import { randomBytes } from "node:crypto";
import WebSocket from "ws";

const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const base = (option("--url") ?? process.env.POSTERN_SMOKE_URL ?? "http://localhost:8080").replace(/\/+$/, "");
const liveBase = (option("--live-url") ?? base).replace(/\/+$/, "");
const username = option("--user") ?? process.env.POSTERN_SMOKE_USER ?? "admin";
const password = option("--password") ?? process.env.POSTERN_SMOKE_PASSWORD;
const timeoutMs = Number(option("--timeout") ?? 60_000);

let step = "start";
const ok = (text) => process.stdout.write(`smoke: ✓ ${text}\n`);
function fail(message) {
  process.stderr.write(`smoke: ✗ ${step}: ${message}\n`);
  process.exit(1);
}
if (!password) fail("set POSTERN_SMOKE_PASSWORD (or --password) to the password of an admin");

async function call(method, path, { cookie, body, expect = [200] } = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(cookie ? { cookie, "x-postern-csrf": "1" } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!expect.includes(res.status)) fail(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return { res, json: text ? JSON.parse(text) : undefined };
}

// 1. Ready: every instance behind the proxy answers /readyz.
step = "ready";
const deadline = Date.now() + timeoutMs;
for (;;) {
  const ready = await fetch(`${base}/readyz`).then((r) => r.status === 200, () => false);
  if (ready) break;
  if (Date.now() > deadline) fail(`${base}/readyz did not answer 200 within ${timeoutMs / 1000} s`);
  await new Promise((r) => setTimeout(r, 500));
}
ok(`${base}/readyz answers 200`);

// 2. Log in.
step = "log in";
const login = await call("POST", "/api/auth/login", { body: { username, password } });
const cookie = (login.res.headers.get("set-cookie") ?? "").split(";")[0];
if (!cookie) fail("the login set no cookie");
if (!login.json?.permissions?.includes("admin")) fail(`${username} is not an admin`);
ok(`logged in as ${username}`);

// 3. A service of its own, so the run touches nothing else.
step = "create a service";
const slug = `smoke-${randomBytes(4).toString("hex")}`;
const { json: service } = await call("POST", "/api/services", {
  cookie,
  body: { name: `Smoke ${slug}`, slug, kind: "web", exclusive: true, maxDurationSeconds: 3600, defaultDurationSeconds: 600 },
  expect: [201],
});
ok(`service ${slug} created`);

// 4. The live board: the snapshot first, then the events of this run.
step = "open the live stream";
const liveUrl = `${liveBase.replace(/^http/, "ws")}/api/live`;
const socket = new WebSocket(liveUrl, { headers: { cookie, origin: liveBase } });
const events = [];
const waiters = [];
socket.on("message", (data) => {
  const message = JSON.parse(String(data));
  if (message.type !== "event") return;
  events.push(message.event);
  for (const w of [...waiters]) if (w.match(message.event)) w.resolve(message.event);
});
await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("no snapshot within 15 s")), 15_000);
  socket.once("message", () => {
    clearTimeout(timer);
    resolve();
  });
  socket.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
  socket.once("error", reject);
}).catch((err) => fail(`${liveUrl}: ${err.message}`));
ok(`live stream open at ${liveUrl}`);

/** Resolves with the first event (already seen or coming) that matches. */
function eventOf(type, sessionId) {
  const match = (e) => e.type === type && (e.session?.id === sessionId || JSON.stringify(e).includes(sessionId));
  const seen = events.find(match);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} event for session ${sessionId} within 15 s`)), 15_000);
    waiters.push({ match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
  });
}

// 5. Start a session and see it live.
step = "start a session";
const { json: session } = await call("POST", `/api/services/${service.id}/sessions`, {
  cookie,
  body: { durationSeconds: 300, reason: "smoke test", sourceIp: "203.0.113.7" },
  expect: [201],
});
if (session.status !== "active") fail(`the session is ${session.status}, not active`);
await eventOf("session.started", session.id).catch((err) => fail(err.message));
ok(`session ${session.id} started and received on the live stream`);

// 6. End it and see that live too.
step = "end the session";
await call("DELETE", `/api/sessions/${session.id}`, { cookie, expect: [200, 204] });
await eventOf("session.ended", session.id).catch((err) => fail(err.message));
ok("session ended and received on the live stream");
socket.close();

// 7. The audit trail has both and its hash chain verifies.
step = "audit chain";
const { json: audit } = await call("GET", `/api/audit?serviceId=${service.id}`, { cookie });
const actions = (audit.items ?? audit).map((e) => e.action);
for (const action of ["session.started", "session.ended"]) {
  if (!actions.includes(action)) fail(`no ${action} in the audit trail (found ${actions.join(", ")})`);
}
const { json: verify } = await call("GET", "/api/audit/verify", { cookie });
if (!verify.intact) fail(`the audit chain breaks at #${verify.firstBreak?.seq}: ${verify.firstBreak?.reason}`);
ok(`audit chain intact (${verify.checked} events)`);

// 8. Leave nothing behind but the audit trail.
step = "clean up";
await call("DELETE", `/api/services/${service.id}`, { cookie, expect: [200, 204] });
ok(`service ${slug} removed`);
process.stdout.write("smoke: all good\n");
