// Test data through the real API, as an admin would make it: factories with unique names, so
// tests sharing one server never see each other's leftovers.
import type { TCreateServiceBody, TGroup, TService, TSession, TUser } from "@postern/contracts";

/** A logged-in API client (cookie login, the CSRF header on changes). */
export class ApiClient {
  private constructor(
    private readonly baseUrl: string,
    /** `name=value` of the login cookie, also usable by a browser context. */
    readonly cookie: string,
  ) {}

  static async login(baseUrl: string, username: string, password: string): Promise<ApiClient> {
    const res = await fetch(`${baseUrl}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    if (!res.ok) throw new Error(`login as ${username} failed: ${res.status} ${await res.text()}`);
    const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    return new ApiClient(baseUrl, cookie);
  }

  async call<T = unknown>(method: string, url: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, url, body);
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  raw(method: string, url: string, body?: unknown): Promise<Response> {
    return fetch(`${this.baseUrl}${url}`, {
      method,
      headers: {
        cookie: this.cookie,
        "x-postern-csrf": "1",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }
}

let counter = 0;
/** A name no other test on this server uses: `base-<n><random>`. */
export function unique(base: string): string {
  counter += 1;
  return `${base}-${counter}${Math.random().toString(36).slice(2, 6)}`;
}

export interface Person {
  user: TUser;
  username: string;
  password: string;
}

/** Builds groups, people and services through the admin's API client. */
export class Factory {
  constructor(private readonly admin: ApiClient) {}

  group(name = unique("team")): Promise<TGroup> {
    return this.admin.call<TGroup>("POST", "/api/groups", { name });
  }

  async person(options: { groups?: TGroup[]; username?: string; displayName?: string; role?: "admin" | "member" } = {}): Promise<Person> {
    const username = options.username ?? unique("user");
    const password = `${username}-password`;
    const user = await this.admin.call<TUser>("POST", "/api/users", {
      username,
      password,
      displayName: options.displayName,
      role: options.role,
      groupIds: (options.groups ?? []).map((g) => g.id),
    });
    return { user, username, password };
  }

  service(groups: TGroup[], overrides: Partial<TCreateServiceBody> = {}): Promise<TService> {
    const name = overrides.name ?? unique("Service");
    return this.admin.call<TService>("POST", "/api/services", {
      name,
      slug: name.toLowerCase().replace(/[^a-z0-9]+/g, "-"),
      kind: "vpn",
      exclusive: true,
      maxDurationSeconds: 7200,
      defaultDurationSeconds: 3600,
      groupIds: groups.map((g) => g.id),
      ...overrides,
    });
  }

  /** A group with one member and one service they may use: the usual start of a board test. */
  async team(serviceOverrides: Partial<TCreateServiceBody> = {}, people = 1) {
    const group = await this.group();
    const members: Person[] = [];
    for (let i = 0; i < people; i++) members.push(await this.person({ groups: [group] }));
    const service = await this.service([group], serviceOverrides);
    return { group, members, member: members[0] as Person, service };
  }

  startSession(as: ApiClient, service: TService, durationSeconds: number): Promise<TSession> {
    return as.call<TSession>("POST", `/api/services/${service.id}/sessions`, { durationSeconds });
  }
}
