// Builds the real API on a fresh real database for a test, plus factories for its data.
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from "fastify";
import fp from "fastify-plugin";
import { openDatabase, type Provider } from "@postern/db";
import serviceApp from "../src/app";
import { loadConfig, type Config } from "../src/config";
import { BODY_LIMIT } from "../src/server";
import { hashPassword } from "../src/modules/auth/password";
import { LOGIN_SESSION_SECONDS } from "../src/modules/auth/auth.service";
import { CSRF_HEADER, SESSION_COOKIE } from "../src/plugins/auth";
import { frameworkErrors } from "../src/plugins/error-handler";
import { createTestDatabase } from "./databases";

export interface TestClock {
  now: () => Date;
  /** Moves the test clock; real timers are unaffected. */
  advance(ms: number): void;
  set(date: Date): void;
}

export function testClock(start = Date.now()): TestClock {
  let offset = start - Date.now();
  return {
    now: () => new Date(Date.now() + offset),
    advance: (ms) => {
      offset += ms;
    },
    set: (date) => {
      offset = date.getTime() - Date.now();
    },
  };
}

export interface TestApp {
  app: FastifyInstance;
  url: string;
  config: Config;
  provider: Provider;
  /** Re-opens the API on the same database, as after a restart. */
  restart(): Promise<FastifyInstance>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  now?: () => Date;
}

export async function buildTestApp(provider: Provider, options: TestAppOptions = {}): Promise<TestApp> {
  const database = await createTestDatabase(provider);
  const config = loadConfig(
    {
      DATABASE_URL: database.url,
      POSTERN_SECRET: "test-secret-test-secret-test-secret-0123456789",
      POSTERN_LOG_LEVEL: "silent",
      POSTERN_WEB_DIR: "/nonexistent",
      // Tests send nothing off the machine: a tunnel opened in a test dials a closed loopback port.
      POSTERN_NGROK_SERVER_ADDR: "127.0.0.1:9",
      ...options.env,
    },
    "/dev/null",
  );
  const start = async () => {
    const opened = await openDatabase(database.url, { poolSize: 4 });
    const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, frameworkErrors });
    await app.register(fp(serviceApp), { config, database: opened, secret: config.secret ?? "", now: options.now });
    app.addHook("onClose", async () => opened.close());
    await app.ready();
    return app;
  };
  const handle: TestApp = {
    app: await start(),
    url: database.url,
    config,
    provider,
    restart: async () => {
      await handle.app.close();
      handle.app = await start();
      return handle.app;
    },
    close: async () => {
      await handle.app.close();
      await database.drop();
    },
  };
  return handle;
}

export interface TestUser {
  id: string;
  username: string;
  password: string;
  /** Headers that authenticate as this user through the login cookie (with the CSRF header). */
  headers: Record<string, string>;
}

let userCounter = 0;

/**
 * Creates a user straight in the database, with a login session of their own, as a login would
 * make it (without going through the login route, whose rate limit a test that makes many users
 * would soon hit; the login route has tests of its own).
 */
export async function createUser(
  app: FastifyInstance,
  options: { role?: "admin" | "member"; groupIds?: string[]; username?: string } = {},
): Promise<TestUser> {
  userCounter += 1;
  const username = options.username ?? `user${userCounter}-${Math.random().toString(36).slice(2, 6)}`;
  const password = `pw-${username}-secret`;
  const user = await app.ctx.db.user.create({
    data: {
      username,
      passwordHash: await hashPassword(password),
      role: options.role ?? "member",
      memberships: { create: (options.groupIds ?? []).map((groupId) => ({ groupId })) },
    },
  });
  const login = await app.ctx.db.loginSession.create({
    data: { userId: user.id, expiresAt: new Date(app.ctx.now().getTime() + LOGIN_SESSION_SECONDS * 1000), provider: "local" },
  });
  const cookie = app.jwt.sign({ typ: "login", sid: login.id }, { expiresIn: LOGIN_SESSION_SECONDS });
  return { id: user.id, username, password, headers: { cookie: `${SESSION_COOKIE}=${cookie}`, [CSRF_HEADER]: "1" } };
}

export function authHeaders(loginResponse: LightMyRequestResponse): Record<string, string> {
  const cookie = loginResponse.cookies.find((c) => c.name === SESSION_COOKIE);
  if (!cookie) throw new Error("no login cookie");
  return { cookie: `${SESSION_COOKIE}=${cookie.value}`, [CSRF_HEADER]: "1" };
}

export async function createGroup(app: FastifyInstance, name = `group-${Math.random().toString(36).slice(2, 8)}`) {
  return app.ctx.db.group.create({ data: { name } });
}

export async function createService(
  app: FastifyInstance,
  data: {
    name?: string;
    exclusive?: boolean;
    requiresApproval?: boolean;
    maxDurationSeconds?: number;
    defaultDurationSeconds?: number;
    groupIds?: string[];
  } = {},
) {
  const slug = `svc-${Math.random().toString(36).slice(2, 8)}`;
  return app.ctx.db.service.create({
    data: {
      name: data.name ?? slug,
      slug,
      kind: "vpn",
      exclusive: data.exclusive ?? false,
      requiresApproval: data.requiresApproval ?? false,
      maxDurationSeconds: data.maxDurationSeconds ?? 7200,
      defaultDurationSeconds: data.defaultDurationSeconds ?? 3600,
      groups: { create: (data.groupIds ?? []).map((groupId) => ({ groupId })) },
    },
  });
}
