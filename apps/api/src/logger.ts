// Postern's logs: JSON lines for machines (not a terminal, or POSTERN_LOG_FORMAT=json), one
// readable coloured line per event on a terminal (pino-pretty, in-process and synchronous, so
// the last lines before an exit are never lost). Requests get one line each when answered,
// with the error code when refused; static files and probes only at debug.
import { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import pino, { type Logger } from "pino";
import { isApiPath } from "./lib/api-paths";
import type { Config } from "./config";

export type LogFormat = "pretty" | "json";

/** Never in the logs: credentials in headers, and secrets in anything logged as an object. */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-access-tokens"]',
  'res.headers["set-cookie"]',
  "password",
  "*.password",
  "*.token",
  "*.secret",
  "*.authtoken",
  "*.ngrokAuthtoken",
  "*.clientSecret",
  "*.smtpUrl",
];

/** POSTERN_LOG_FORMAT, else pretty on a terminal and JSON anywhere else (files, pipes, journald, docker). */
export function logFormatOf(config: Pick<Config, "logFormat">, stdoutIsTty: boolean = process.stdout.isTTY === true): LogFormat {
  return config.logFormat ?? (stdoutIsTty ? "pretty" : "json");
}

/** The message of a request's line, which the pretty format turns into `GET /path 200 3.1 ms`. */
export const REQUEST_COMPLETED = "request completed";

interface RequestLine {
  req?: { method?: string; url?: string };
  res?: { statusCode?: number };
  error?: string;
  responseTime?: number;
}

export async function createLogger(
  config: Pick<Config, "logLevel" | "logFormat">,
  options: { format?: LogFormat; destination?: NodeJS.WritableStream | number; colorize?: boolean } = {},
): Promise<Logger> {
  const format = options.format ?? logFormatOf(config);
  const base = { level: config.logLevel, redact: { paths: REDACT_PATHS, censor: "[redacted]" } };
  if (format === "json") {
    if (options.destination === undefined) return pino(base);
    return pino(base, typeof options.destination === "number" ? pino.destination(options.destination) : options.destination);
  }
  // Loaded only for the pretty format: a server logging JSON need not parse it at start-up.
  const { default: pretty } = await import("pino-pretty");
  const stream = pretty({
    colorize: options.colorize ?? process.stdout.isTTY === true,
    translateTime: "SYS:HH:MM:ss",
    ignore: "pid,hostname,reqId,req,res,responseTime,error",
    singleLine: true,
    sync: true,
    destination: options.destination ?? 1,
    messageFormat: (log, messageKey, _level, { colors }) => {
      const line = log as RequestLine;
      if (log[messageKey] !== REQUEST_COMPLETED || !line.req) return String(log[messageKey] ?? "");
      const status = line.res?.statusCode ?? 0;
      const paint = status >= 500 ? colors.red : status >= 400 ? colors.yellow : colors.green;
      const code = line.error ? ` ${paint(line.error)}` : "";
      const time = line.responseTime === undefined ? "" : colors.gray(` ${line.responseTime.toFixed(1)} ms`);
      return `${line.req.method ?? ""} ${line.req.url ?? ""} ${paint(String(status))}${code}${time}`;
    },
  });
  return pino(base, stream);
}

/** Query parameters that carry credentials (OIDC codes and state, tokens pasted into URLs). */
const SECRET_PARAMS = new Set(["token", "access_token", "id_token", "refresh_token", "code", "state", "password", "secret"]);

/**
 * A request URL fit for the log: on the auth routes (OIDC callbacks carry `code` and `state`) the
 * whole query goes; elsewhere each credential-like parameter's value is replaced.
 */
export function loggableUrl(url: string): string {
  const q = url.indexOf("?");
  if (q < 0) return url;
  const pathname = url.slice(0, q);
  if (pathname.startsWith("/api/auth/") || pathname === "/api/loginUser") return `${pathname}?[redacted]`;
  const params = url
    .slice(q + 1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, " "));
      } catch {
        // A malformed name is logged as sent.
      }
      return SECRET_PARAMS.has(decoded.toLowerCase()) ? `${name}=[redacted]` : pair;
    });
  return `${pathname}?${params.join("&")}`;
}

/** Whether the request's logger writes `level` (Fastify's logger here is pino's). */
function levelEnabled(request: FastifyRequest, level: "debug" | "info" | "error"): boolean {
  return (request.log as Partial<Logger>).isLevelEnabled?.(level) ?? true;
}

/** Probes, metrics scrapes and the SPA's files: useful at debug, noise at info. */
function isQuiet(request: FastifyRequest, reply: FastifyReply): boolean {
  const pathname = request.url.split("?")[0] ?? "/";
  if (pathname === "/healthz" || pathname === "/readyz" || pathname === "/metrics") return true;
  const isRead = request.method === "GET" || request.method === "HEAD";
  return isRead && reply.statusCode < 400 && !isApiPath(pathname);
}

declare module "fastify" {
  interface FastifyRequest {
    /** The code of the error envelope sent, for the request's log line. */
    loggedErrorCode: string | null;
  }
}

/**
 * Fastify's request lines, one per request when it is answered instead of two ("incoming
 * request" stays available at debug); probes and static files at debug.
 */
export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    // Checked first: building the line (the URL's redaction above all) is most of its cost.
    if (!levelEnabled(request, "debug")) return;
    request.log.debug({ req: { method: request.method, url: loggableUrl(request.url) } }, "incoming request");
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    // Below info nothing but errors is written: say so before working out the level (the URL's split).
    if (!error && !levelEnabled(request, "info")) return;
    const level = error ? "error" : isQuiet(request, reply) ? "debug" : "info";
    if (!levelEnabled(request, level)) return;
    const line = {
      req: { method: request.method, url: loggableUrl(request.url), remoteAddress: request.ip },
      res: { statusCode: reply.statusCode },
      ...(request.loggedErrorCode ? { error: request.loggedErrorCode } : {}),
      responseTime: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (error) request.log.error({ ...line, err: error }, REQUEST_COMPLETED);
    else request.log[level](line, REQUEST_COMPLETED);
  }
}

/** Notes the error code of every error envelope sent, for the request's line: refusals are
 * written at info, so below that level there is nothing to note. */
export function recordErrorCodes(app: FastifyInstance): void {
  app.decorateRequest("loggedErrorCode", null);
  app.addHook("onSend", (request, reply, payload, done) => {
    if (reply.statusCode >= 400 && typeof payload === "string" && (reply.statusCode >= 500 || levelEnabled(request, "info"))) {
      const code = /^\{"error":\{"code":"([^"]+)"/.exec(payload)?.[1];
      if (code) request.loggedErrorCode = code;
    }
    done(null, payload);
  });
}
