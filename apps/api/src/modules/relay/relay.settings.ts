// Whether the monitoring relay is on, from SMTP_URL, POSTERN_MAIL_FROM and POSTERN_RELAY_TO.
// Off is a normal state (no mail server configured); the routes then say so with a 503.
import type { Config } from "../../config";

export type RelaySettings =
  | { enabled: true; smtpUrl: string; from: string; to: string[] }
  | { enabled: false; reason: string };

export function relaySettingsOf(config: Pick<Config, "smtpUrl" | "mailFrom" | "relayTo">): RelaySettings {
  const to = (config.relayTo ?? "")
    .split(",")
    .map((a) => a.trim())
    .filter(Boolean);
  const missing = [
    config.smtpUrl ? null : "SMTP_URL",
    config.mailFrom ? null : "POSTERN_MAIL_FROM",
    to.length > 0 ? null : "POSTERN_RELAY_TO",
  ].filter((m): m is string => m !== null);
  if (missing.length > 0 || !config.smtpUrl || !config.mailFrom) {
    return {
      enabled: false,
      reason:
        "relay is off: set SMTP_URL (e.g. smtp://user:pass@mail.example.com:587), POSTERN_RELAY_TO " +
        `(comma-separated recipients) and POSTERN_MAIL_FROM (the sender); missing: ${missing.join(", ")}`,
    };
  }
  return { enabled: true, smtpUrl: config.smtpUrl, from: config.mailFrom, to };
}
