// What the live stream's tests share: a fresh app listening on loopback for each test, an admin,
// the clients a test opened (terminated after it), and a start and an end through the API.
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, expect } from "vitest";
import type { Provider } from "@postern/db";
import { buildTestApp, createUser, type TestApp, type TestUser } from "../../../test/app";
import { openLive, type LiveTestClient } from "./live.test-client";

export interface LiveTestBed {
  /** Built afresh for each test. */
  readonly t: TestApp;
  /** The app's http://127.0.0.1:<port>. */
  readonly base: string;
  readonly admin: TestUser;
  /** A live client, closed after the test. */
  open(user: TestUser, since?: number): Promise<LiveTestClient>;
  /** The same with any credentials (a token). */
  openWith(headers: Record<string, string>, since?: number): Promise<LiveTestClient>;
  start(user: TestUser, serviceId: string): Promise<{ id: string }>;
  end(user: TestUser, sessionId: string): Promise<void>;
}

/** Call inside a `describe`: its hooks build and close the app around each test. */
export function liveTestBed(provider: Provider): LiveTestBed {
  let t: TestApp | undefined;
  let base = "";
  let admin: TestUser | undefined;
  const clients: LiveTestClient[] = [];
  const app = () => {
    if (!t) throw new Error("the live test bed is used outside a test");
    return t;
  };

  beforeEach(async () => {
    t = await buildTestApp(provider);
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    admin = await createUser(t.app, { role: "admin" });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await t?.close();
    t = undefined;
  });

  const openWith = async (headers: Record<string, string>, since?: number) => {
    const c = await openLive(base, headers, since);
    clients.push(c);
    return c;
  };

  return {
    get t() {
      return app();
    },
    get base() {
      return base;
    },
    get admin() {
      if (!admin) throw new Error("the live test bed is used outside a test");
      return admin;
    },
    open: (user, since) => openWith(user.headers, since),
    openWith,
    start: async (user, serviceId) => {
      const res = await app().app.inject({
        method: "POST",
        url: `/api/services/${serviceId}/sessions`,
        headers: user.headers,
        payload: { durationSeconds: 600 },
      });
      expect(res.statusCode).toBe(201);
      return res.json<{ id: string }>();
    },
    end: async (user, sessionId) => {
      const res = await app().app.inject({ method: "DELETE", url: `/api/sessions/${sessionId}`, headers: user.headers });
      expect(res.statusCode).toBe(200);
    },
  };
}
