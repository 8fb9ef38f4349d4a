// Watches the change dispatcher of a test app: every event any process committed, in log order.
import type { FastifyInstance } from "fastify";
import type { TDomainEvent, TDomainEventType } from "@postern/contracts";

export interface EventLog {
  events: TDomainEvent[];
  /** Types of the events about one session, in order. */
  sessionTypes(sessionId: string): TDomainEventType[];
  /** The same without the `session.` prefix: `["requested", "approved"]`. */
  sessionVerbs(sessionId: string): string[];
  ofType<T extends TDomainEventType>(type: T): Extract<TDomainEvent, { type: T }>[];
  stop(): void;
}

export function watchEvents(app: FastifyInstance): EventLog {
  const events: TDomainEvent[] = [];
  const stop = app.changes.subscribe((record) => events.push(record.event));
  return {
    events,
    stop,
    sessionTypes: (id) => events.flatMap((e) => ("session" in e && e.session.id === id ? [e.type] : [])),
    sessionVerbs: (id) => events.flatMap((e) => ("session" in e && e.session.id === id ? [e.type.slice("session.".length)] : [])),
    ofType: <T extends TDomainEventType>(type: T) => events.filter((e): e is Extract<TDomainEvent, { type: T }> => e.type === type),
  };
}
