// Names and duration choices shared by the pages (moments and lengths are in time.ts).
import type { TSession } from "@postern/contracts";
export { formatCountdown, formatDuration } from "./time";

/** Whom a gateway's door admits: each holder, and for admins the address it admits them from. The
 * board the API sends members carries no one's address, their own included: an admin's board
 * shows the same line with the addresses, a member's only with the names. */
export function admittedBy(sessions: readonly TSession[], me: { id: string }, isAdmin: boolean): string {
  const who = (s: TSession) => (s.userId === me.id ? "you" : s.user.username);
  return sessions.map((s) => (isAdmin && s.sourceIp ? `${who(s)} (${s.sourceIp})` : who(s))).join(", ");
}

/** Choices for the start pickers: common lengths up to the service's maximum, with its default. */
export function durationChoices(defaultSeconds: number, maxSeconds: number): number[] {
  const common = [15 * 60, 30 * 60, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 86400, 7 * 86400];
  const set = new Set(common.filter((s) => s <= maxSeconds));
  set.add(Math.min(defaultSeconds, maxSeconds));
  set.add(maxSeconds);
  return [...set].sort((a, b) => a - b);
}

/**
 * How much a running session may still grow now: the service's maximum bounds how far ahead of
 * now it may run, and on an exclusive service it must not run into the next booked window.
 */
export function extendLimitSeconds(input: {
  expiresAt: string;
  maxSeconds: number;
  now: number;
  /** The start of the next booked window on the service after this session, if any. */
  nextBookingAt?: string;
}): number {
  const expires = new Date(input.expiresAt).getTime();
  let limit = Math.floor((input.now + input.maxSeconds * 1000 - expires) / 1000);
  if (input.nextBookingAt) limit = Math.min(limit, Math.floor((new Date(input.nextBookingAt).getTime() - expires) / 1000));
  return Math.max(0, limit);
}

/** The API's smallest session length (POSTERN_MIN_SESSION_SECONDS' default). */
export const MIN_EXTEND_SECONDS = 60;

/**
 * Extension choices that fit within `limitSeconds`: common lengths, plus "up to the limit" in
 * whole minutes (the limit only grows as time passes, so a choice stays valid until it is sent).
 */
export function extendChoices(limitSeconds: number): number[] {
  const common = [15 * 60, 30 * 60, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 86400];
  const upTo = Math.floor(limitSeconds / 60) * 60;
  if (upTo < MIN_EXTEND_SECONDS) return [];
  const set = new Set(common.filter((s) => s <= upTo));
  set.add(upTo);
  return [...set].sort((a, b) => a - b);
}

export function displayName(user: { username: string; displayName?: string }): string {
  return user.displayName ? `${user.displayName} (${user.username})` : user.username;
}
