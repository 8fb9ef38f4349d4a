// One visibility class's board: its services and the open sessions on them, in the order the
// REST reads and the live snapshot send them, serialised at most once per version. A session
// event makes the next version from this one (`withSession`) instead of a read of the database:
// on a board that many people use at once, every start, extend and end would otherwise send the
// next read of every class back to the database. An agent event does the same for the doors of
// its services (`withAgentStatus`): a gateway reports after every door it opens or closes.
import { isOpenStatus, type TAgentStatus, type TService, type TSession } from "@postern/contracts";
import { presentGatewayStatus } from "../services/services.presenter";
import { withoutSourceIp } from "../sessions/sessions.presenter";

/** Oldest request first, then by id: the order the database gives a line or a service's
 * occupants in (`ORDER BY "requestedAt", "id"`). */
export const olderRequestFirst = (a: TSession, b: TSession) =>
  a.requestedAt < b.requestedAt ? -1 : a.requestedAt > b.requestedAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

/** The rows by `key`, each list in the order given (Map.groupBy needs Node 21). */
export function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = groups.get(k);
    if (list) list.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

/** Newest request first: the order of `GET /api/sessions?active=true`. */
const newerRequest = (a: TSession, b: TSession) => (a.requestedAt > b.requestedAt ? -1 : a.requestedAt < b.requestedAt ? 1 : 0);

export class BoardView {
  readonly byId: ReadonlyMap<string, TService>;
  /** Whether a service here shows a gateway's status, which goes stale without an event. */
  readonly hasGateways: boolean;
  private servicesText?: string;
  private servicesBytes?: Buffer;
  private shownList?: readonly TSession[];
  private sessionsText?: string;
  private sessionsBytes?: Buffer;
  private serviceBytes?: Map<string, Buffer>;
  private sessionsById?: Map<string, TSession>;
  private sessionsByHolder?: Map<string, TSession[]>;
  private sessionsByService?: Map<string, TSession[]>;

  /**
   * @param sessions open sessions on `services`, newest request first, whole: judging a change
   *   from the board (and the row a change then writes back) needs every field. What the class
   *   is shown of them is `shownSessions`.
   * @param detail whether this class sees what only admins see (an agent's error, the addresses
   *   sessions were opened from).
   */
  constructor(
    readonly services: TService[],
    readonly sessions: TSession[],
    readonly detail = false,
  ) {
    this.byId = new Map(services.map((s) => [s.id, s]));
    this.hasGateways = services.some((s) => s.gateway !== undefined);
  }

  /** `services` as JSON, for the live snapshot. */
  get servicesJson(): string {
    return (this.servicesText ??= JSON.stringify(this.services));
  }

  /** The same as UTF-8 bytes, for `GET /api/services`: encoded once, not on every answer. */
  get servicesBody(): Buffer {
    return (this.servicesBytes ??= Buffer.from(this.servicesJson));
  }

  /** One service as JSON bytes, for `GET /api/services/:id`; undefined when this board has no such service. */
  serviceBody(id: string): Buffer | undefined {
    const service = this.byId.get(id);
    if (!service) return undefined;
    this.serviceBytes ??= new Map();
    let body = this.serviceBytes.get(id);
    if (!body) this.serviceBytes.set(id, (body = Buffer.from(JSON.stringify(service))));
    return body;
  }

  /** One open session on this board, by id. */
  session(id: string): TSession | undefined {
    this.sessionsById ??= new Map(this.sessions.map((s) => [s.id, s]));
    return this.sessionsById.get(id);
  }

  /** The open sessions `userId` holds on `serviceId`, newest request first. */
  sessionsOf(serviceId: string, userId: string): readonly TSession[] {
    this.sessionsByHolder ??= groupBy(this.sessions, (s) => `${s.serviceId} ${s.userId}`);
    return this.sessionsByHolder.get(`${serviceId} ${userId}`) ?? [];
  }

  /** Every open session on `serviceId`, newest request first. */
  sessionsOn(serviceId: string): readonly TSession[] {
    this.sessionsByService ??= groupBy(this.sessions, (s) => s.serviceId);
    return this.sessionsByService.get(serviceId) ?? [];
  }

  /** `sessions` as this class is shown them: members do not see the addresses (withoutSourceIp). */
  get shownSessions(): readonly TSession[] {
    return (this.shownList ??= this.detail ? this.sessions : this.sessions.map(withoutSourceIp));
  }

  /** One of `sessions` as this class is shown it. */
  shown(session: TSession): TSession {
    return this.detail ? session : withoutSourceIp(session);
  }

  get sessionsJson(): string {
    return (this.sessionsText ??= JSON.stringify(this.shownSessions));
  }

  get sessionsBody(): Buffer {
    return (this.sessionsBytes ??= Buffer.from(this.sessionsJson));
  }

  /**
   * The board after a session event, which carries the session as the change left it: in the
   * list while it is open, out of it once it is not, and its service's count of active sessions
   * and exclusive holder worked out again from the list (which holds every open session on a
   * service this class sees). `this` when the session's service is not on this board. Which
   * event is a session's latest is the cache's to decide (board.cache.ts).
   */
  withSession(session: TSession): BoardView {
    const service = this.byId.get(session.serviceId);
    if (!service) return this;
    const sessions = this.sessions.filter((s) => s.id !== session.id);
    if (isOpenStatus(session.status)) {
      const at = sessions.findIndex((s) => newerRequest(session, s) < 0);
      sessions.splice(at === -1 ? sessions.length : at, 0, session);
    }
    const active = sessions.filter((s) => s.serviceId === service.id && s.status === "active");
    const first = active.reduce<TSession | undefined>((a, s) => (a && (a.startedAt ?? "") <= (s.startedAt ?? "") ? a : s), undefined);
    const next: TService = { ...service, activeSessions: active.length, holder: service.exclusive ? first?.user : undefined };
    return new BoardView(
      this.services.map((s) => (s.id === service.id ? next : s)),
      sessions,
      this.detail,
    );
  }

  /**
   * The board after an agent event, which carries the agent's status as the change left it: each
   * service bound to that agent shows it as a read presents it (`presentGatewayStatus`).
   * `this` when no service here is bound to it or none would show anything new.
   */
  withAgentStatus(agent: TAgentStatus): BoardView {
    const shown = presentGatewayStatus(agent, this.detail);
    const same = (s: TService) =>
      s.gatewayStatus?.online === shown.online && s.gatewayStatus.inSync === shown.inSync && s.gatewayStatus.error === shown.error;
    const bound = (s: TService) => s.gateway?.agentId === agent.id;
    if (!this.services.some((s) => bound(s) && !same(s))) return this;
    return new BoardView(
      this.services.map((s) => (bound(s) ? { ...s, gatewayStatus: { ...shown } } : s)),
      this.sessions,
      this.detail,
    );
  }
}
