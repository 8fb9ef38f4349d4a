// The one way the SPA talks to the API: same-origin cookies, the CSRF header on every change,
// responses parsed with the contracts' zod schemas, and every failure turned into an ApiError
// whose message can be shown to the user as it is.
import type { z } from "zod";
import { ZConflictDetails, ZErrorBody, ZFieldIssue, type TErrorCode, type TFieldIssue } from "@postern/contracts";
import { liveSeqHeaders, noteChangeSeq, noteLiveSeq } from "./live-seq";
import { noteServerDate } from "../lib/server-clock";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: TErrorCode | "network",
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The field problems of a 400, when the API named them. */
  get fieldIssues(): TFieldIssue[] {
    const parsed = ZFieldIssue.array().safeParse(this.details);
    return parsed.success ? parsed.data : [];
  }
}

export function isApiError(err: unknown, status?: number): err is ApiError {
  return err instanceof ApiError && (status === undefined || err.status === status);
}

function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay ? d.toLocaleTimeString(undefined, { timeStyle: "short" }) : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A sentence for people: a 409 names who holds the service and until when. */
function messageOf(status: number, code: TErrorCode, message: string, details: unknown): string {
  if (code === "conflict") {
    const conflict = ZConflictDetails.safeParse(details);
    if (conflict.success) {
      const { holder, expiresAt } = conflict.data;
      const who = holder.displayName ? `${holder.displayName} (${holder.username})` : holder.username;
      return `Held by ${who}${expiresAt ? ` until ${formatTime(expiresAt)}` : ""}.`;
    }
  }
  if (code === "rate_limited") return `${message} — please wait a moment and try again.`;
  if (status === 401) return message || "Please log in.";
  return message;
}

async function errorFrom(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  const body = ZErrorBody.safeParse(json);
  if (body.success) {
    const { code, message, details } = body.data.error;
    return new ApiError(res.status, code, messageOf(res.status, code, message, details), details);
  }
  const fallback: TErrorCode = res.status === 404 ? "not_found" : res.status >= 500 ? "internal" : "bad_request";
  return new ApiError(res.status, fallback, `The server answered ${res.status} ${res.statusText}`.trim());
}

type Method = "GET" | "POST" | "PATCH" | "DELETE";

async function request(method: Method, path: string, body?: unknown, contentType = "application/json"): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json" };
  // The API refuses cookie-authenticated changes without this header (a cross-site form cannot set it).
  if (method !== "GET") headers["x-postern-csrf"] = "1";
  else Object.assign(headers, liveSeqHeaders(path));
  if (body !== undefined) headers["content-type"] = contentType;
  let res: Response;
  const sentAt = Date.now();
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : typeof body === "string" && contentType !== "application/json" ? body : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "Cannot reach the server. Check your connection and try again.");
  }
  noteServerDate(res.headers.get("date"), sentAt, Date.now());
  if (!res.ok) throw await errorFrom(res);
  if (method !== "GET") noteChangeSeq(res);
  return res;
}

async function parsed<S extends z.ZodType>(res: Response, schema: S): Promise<z.infer<S>> {
  const text = await res.text();
  const result = schema.safeParse(text ? JSON.parse(text) : undefined);
  if (!result.success) {
    throw new ApiError(res.status, "internal", "The server's answer did not have the expected shape.", result.error.issues);
  }
  return result.data;
}

/** A query string from the defined, non-empty values. */
export function query(params: Record<string, string | undefined>): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") qs.set(k, v);
  const s = qs.toString();
  return s ? `?${s}` : "";
}

export const api = {
  get: async <S extends z.ZodType>(path: string, schema: S) => {
    const res = await request("GET", path);
    const data = await parsed(res, schema);
    noteLiveSeq(path, res);
    return data;
  },
  post: async <S extends z.ZodType>(path: string, schema: S, body?: unknown) =>
    parsed(await request("POST", path, body), schema),
  /** A plain-text body (CSV imports). */
  postText: async <S extends z.ZodType>(path: string, schema: S, text: string, contentType: string) =>
    parsed(await request("POST", path, text, contentType), schema),
  patch: async <S extends z.ZodType>(path: string, schema: S, body: unknown) =>
    parsed(await request("PATCH", path, body), schema),
  /** DELETE; the answer's body (if any) is parsed when a schema is given. */
  delete: async <S extends z.ZodType>(path: string, schema?: S) => {
    const res = await request("DELETE", path);
    return schema ? parsed(res, schema) : undefined;
  },
};

/** For routes other helpers are still building: null when the route does not exist (404). */
export async function getOptional<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S> | null> {
  try {
    return await api.get(path, schema);
  } catch (err) {
    if (isApiError(err, 404) && err.message.startsWith("no route")) return null;
    throw err;
  }
}
