// What a running session may be extended by right now, and the user's pick among it. Offered
// only what the API will accept: the service's maximum counts from now, and an exclusive
// service's next booked window is a wall. Each session keeps its own pick.
import { useState } from "react";
import type { TService, TSession } from "@postern/contracts";
import { extendChoices, extendLimitSeconds } from "../lib/format";
import { useNow } from "./use-now";
import { serverNow } from "../lib/server-clock";

export interface ExtendChoice {
  choices: number[];
  /** The pick, or undefined when nothing fits (at the maximum, or booked right after). */
  value: number | undefined;
  setValue: (seconds: number) => void;
  reset: () => void;
  /** The longest choice, noted in the picker. */
  longest: number | undefined;
  /** A booked window right after this session blocks any extension. */
  blockedByBooking: boolean;
}

export function useExtendChoice(session: TSession | undefined, service: TService | undefined, serviceSessions: TSession[]): ExtendChoice {
  const [picked, setPicked] = useState<number | null>(null);
  // Re-rendered every 15 s so the choices grow as time passes; computed with the time of this render.
  useNow(15_000);
  const now = serverNow();
  if (!session?.expiresAt || !service) {
    return { choices: [], value: undefined, setValue: setPicked, reset: () => setPicked(null), longest: undefined, blockedByBooking: false };
  }
  const expiresAt = session.expiresAt;
  const nextBookingAt = service.exclusive
    ? serviceSessions
        .filter((s) => s.id !== session.id && s.status === "scheduled" && s.startsAt && s.startsAt >= expiresAt)
        .map((s) => s.startsAt ?? "")
        .sort()[0]
    : undefined;
  const limit = extendLimitSeconds({ expiresAt, maxSeconds: service.maxDurationSeconds, now, nextBookingAt });
  const choices = extendChoices(limit);
  // A pick made earlier stays while it still fits, although "longest" moves on every minute.
  if (picked !== null && picked <= limit && !choices.includes(picked)) choices.push(picked);
  choices.sort((a, b) => a - b);
  const fallback = choices.filter((c) => c <= service.defaultDurationSeconds).pop() ?? choices[0];
  return {
    choices,
    value: picked !== null && choices.includes(picked) ? picked : fallback,
    setValue: setPicked,
    reset: () => setPicked(null),
    longest: choices[choices.length - 1],
    blockedByBooking: nextBookingAt !== undefined && limit < 60,
  };
}
