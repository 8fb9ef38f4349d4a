// Who a relayed message has reached. nodemailer resolves sendMail as soon as one recipient was
// accepted, however many others the server deferred (4xx) or refused (5xx) at RCPT TO; only the
// result's `rejectedErrors` say so. Each attempt is therefore read recipient by recipient, and the
// next one goes only to those still waiting.
import { domainToASCII } from "node:url";
import type { Message } from "@postern/db";

/** A recipient an attempt did not reach, and why (for admins). */
export interface Miss {
  address: string;
  reason: string;
  /** Refused for good (5xx): no later attempt goes to it. */
  refused: boolean;
}

export interface AttemptOutcome {
  delivered: string[];
  missed: Miss[];
}

interface SmtpError {
  message?: string;
  response?: string;
  responseCode?: number;
  command?: string;
  recipient?: string;
  rejectedErrors?: SmtpError[];
}

/** The commands whose 5xx answer is about this message (its recipients, its content), which a
 * retry will not change. A 5xx anywhere else (the login: 535; the greeting, STARTTLS, or MAIL
 * FROM: a blocked host or sender) is the server's answer to every message: they stay queued and
 * are retried, so that mending the SMTP settings delivers what came in meanwhile. */
const PER_MESSAGE_COMMANDS = new Set(["RCPT TO", "DATA"]);

export function isPermanent(err: unknown): boolean {
  const { responseCode, command } = err as SmtpError;
  return typeof responseCode === "number" && responseCode >= 500 && responseCode < 600 && PER_MESSAGE_COMMANDS.has(command ?? "");
}

/** Addresses are compared as the server reports them back, which may differ in case, and name an
 * internationalised domain in its ASCII (punycode) form where the configuration has Unicode. */
function key(address: string): string {
  const text = address.trim().toLowerCase();
  const at = text.lastIndexOf("@");
  if (at < 0) return text;
  return `${text.slice(0, at)}@${domainToASCII(text.slice(at + 1)) || text.slice(at + 1)}`;
}

export function addressList(column: string | null): string[] {
  return column ? column.split(" ").filter(Boolean) : [];
}

export function addressColumn(list: string[]): string | null {
  return list.length > 0 ? list.join(" ") : null;
}

export function includes(list: string[], address: string): boolean {
  return list.some((a) => key(a) === key(address));
}

/** `list` and the addresses of `more` not in it already. */
export function union(list: string[], more: string[]): string[] {
  const out = [...list];
  for (const address of more) if (!includes(out, address)) out.push(address);
  return out;
}

/** The configured recipients that neither have the message nor refused it for good. */
export function waitingRecipients(to: string[], row: Pick<Message, "deliveredTo" | "refusedTo">): string[] {
  const done = [...addressList(row.deliveredTo), ...addressList(row.refusedTo)];
  return to.filter((a) => !includes(done, a));
}

/** The server's last answer for each recipient who lacks the message, by address: the column
 * `recipientReplies` (JSON). Kept so that `lastError` names the reason for a recipient refused
 * (or deferred) on an earlier attempt, in another instance or before a restart. */
export type Replies = Record<string, string>;

/** A reply is kept to this length: enough for any server's one-line answer. */
const REPLY_MAX = 300;

export function repliesOf(column: string | null): Replies {
  if (!column) return {};
  try {
    const parsed: unknown = JSON.parse(column);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === "string"));
  } catch {
    return {};
  }
}

export function repliesColumn(replies: Replies): string | null {
  return Object.keys(replies).length > 0 ? JSON.stringify(replies) : null;
}

export function replyOf(replies: Replies, address: string): string | undefined {
  return Object.entries(replies).find(([a]) => key(a) === key(address))?.[1];
}

/**
 * The replies after an attempt, for the recipients in `lacking` (who still lack the message):
 * this attempt's answer for each it missed, else the one kept from before. An attempt cut short
 * (`interrupted`) got no answer from the server: what it said before is kept.
 */
export function nextReplies(before: Replies, outcome: AttemptOutcome, lacking: string[], interrupted: boolean): Replies {
  const next: Replies = {};
  for (const address of lacking) {
    const now = outcome.missed.find((m) => key(m.address) === key(address))?.reason;
    const earlier = replyOf(before, address);
    const reply = interrupted ? (earlier ?? now) : (now ?? earlier);
    if (reply !== undefined) next[address] = reply.slice(0, REPLY_MAX);
  }
  return next;
}

function missOf(address: string, err: SmtpError | undefined, fallback: string): Miss {
  const code = err?.responseCode;
  const refused = typeof code === "number" && code >= 500 && code < 600;
  const answer = err?.response || err?.message || fallback;
  return { address, reason: refused ? `refused: ${answer}` : answer, refused };
}

function perRecipient(sentTo: string[], errors: SmtpError[], accepted: string[], fallback: string): AttemptOutcome {
  const outcome: AttemptOutcome = { delivered: [], missed: [] };
  for (const address of sentTo) {
    const err = errors.find((e) => e.recipient !== undefined && key(e.recipient) === key(address));
    if (!err && includes(accepted, address)) outcome.delivered.push(address);
    else outcome.missed.push(missOf(address, err, fallback));
  }
  return outcome;
}

/** A sendMail that resolved: the server took the mail for the recipients it accepted. */
export function outcomeOfSent(info: { accepted?: unknown[]; rejectedErrors?: SmtpError[] }, sentTo: string[]): AttemptOutcome {
  const accepted = (info.accepted ?? []).filter((a): a is string => typeof a === "string");
  return perRecipient(sentTo, info.rejectedErrors ?? [], accepted, "not accepted by the server");
}

/** A sendMail that failed: nobody got the mail; which recipients may be tried again. */
export function outcomeOfError(err: unknown, sentTo: string[]): AttemptOutcome {
  const e = err as SmtpError;
  const message = e.message || String(err);
  // Every recipient refused at RCPT TO, each with its own answer: some may only be deferred.
  if (e.rejectedErrors?.length) return perRecipient(sentTo, e.rejectedErrors, [], message);
  const refused = isPermanent(err);
  const reason = refused ? `refused: ${e.response || message}` : message;
  return { delivered: [], missed: sentTo.map((address) => ({ address, reason, refused })) };
}

/** For admins: who lacks the message and why, grouped by reason; and who has it. */
export function describeMissing(missed: Miss[], delivered: string[]): string {
  const byReason = new Map<string, string[]>();
  for (const m of missed) byReason.set(m.reason, [...(byReason.get(m.reason) ?? []), m.address]);
  const parts = [...byReason].map(([why, addresses]) => `${addresses.join(", ")}: ${why}`);
  const has = delivered.length > 0 ? ` (delivered to ${delivered.join(", ")})` : "";
  return `not delivered to ${parts.join("; ")}${has}`;
}
