// postern.yaml: the environment's names in lower case, POSTERN_OIDC_<ID>_* included, and an `oidc:`
// list of providers. Every key is checked: a misspelt one would otherwise be ignored in silence and
// its default used.
import fs from "node:fs";
import { parse as parseYaml } from "yaml";

export class ConfigError extends Error {}

export type Source = Record<string, unknown>;

/** A provider's settings, as POSTERN_OIDC_<ID>_<setting> names them. */
export const OIDC_SETTINGS = ["ISSUER", "CLIENT_ID", "CLIENT_SECRET", "NAME", "GROUPS_CLAIM", "ALLOW_SIGNUP", "LINK_BY_EMAIL", "SCOPES"] as const;
export type OidcSetting = (typeof OIDC_SETTINGS)[number];

/** The keys of an entry of the `oidc:` list: the settings' names in lower case, and its id. */
const OIDC_ENTRY_KEYS: readonly string[] = ["id", ...OIDC_SETTINGS.map((s) => s.toLowerCase())];

const oidcFileKey = new RegExp(`^postern_oidc_[a-z0-9_]+?_(${OIDC_SETTINGS.join("|").toLowerCase()})$`);

/** The file's keys, checked against the environment's names (`envNames`). */
export function readConfigFile(filePath: string, envNames: readonly string[]): Source {
  let file: Source;
  try {
    const parsed: unknown = parseYaml(fs.readFileSync(filePath, "utf8"));
    if (parsed !== null && (typeof parsed !== "object" || Array.isArray(parsed))) throw new Error("the file must hold a mapping of keys");
    file = (parsed ?? {}) as Source;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === "ENOENT" ? "no such file" : e.message.split("\n")[0];
    throw new ConfigError(`config file ${filePath}: ${why}`);
  }
  const known = new Set([...envNames.map((n) => n.toLowerCase()), "oidc"]);
  const unknown = Object.keys(file).filter((k) => !known.has(k) && !oidcFileKey.test(k));
  if (unknown.length > 0) {
    const provider = unknown.some((k) => k.startsWith("postern_oidc_"))
      ? `; a provider's are postern_oidc_<id>_ and one of ${OIDC_SETTINGS.map((s) => s.toLowerCase()).join(", ")}`
      : "";
    throw new ConfigError(
      `config file ${filePath}: unknown key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")}; ` +
        `keys are the environment names in lower case, e.g. port, database_url, postern_public_url${provider}`,
    );
  }
  checkOidcList(filePath, file.oidc);
  // Both would name the same provider; the keys would win without a word about the list entry.
  const keyed = new Set(Object.keys(file).flatMap((k) => /^postern_oidc_(.+?)_issuer$/.exec(k)?.[1] ?? []));
  const twice = (Array.isArray(file.oidc) ? (file.oidc as Source[]) : []).find((p) => keyed.has(String(p?.id)));
  if (twice) {
    const id = String(twice.id);
    throw new ConfigError(`config file ${filePath}: provider ${id} is set twice, by postern_oidc_${id}_* keys and in the oidc list; keep one`);
  }
  return file;
}

/** A provider's entries: a misspelt `allow_signup` would otherwise leave sign-up open. */
function checkOidcList(filePath: string, oidc: unknown): void {
  if (oidc === undefined || oidc === null) return;
  const keys = OIDC_ENTRY_KEYS.join(", ");
  if (!Array.isArray(oidc)) {
    throw new ConfigError(`config file ${filePath}: oidc must be a list of providers, each starting "- id: <id>", not a ${typeof oidc === "object" ? "mapping" : typeof oidc}`);
  }
  oidc.forEach((entry: unknown, i) => {
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
      throw new ConfigError(`config file ${filePath}: oidc[${i}] must be a mapping of a provider's keys (${keys})`);
    }
    const unknown = Object.keys(entry).filter((k) => !OIDC_ENTRY_KEYS.includes(k));
    if (unknown.length > 0) {
      throw new ConfigError(
        `config file ${filePath}: unknown key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `oidc[${i}].${k}`).join(", ")}; a provider's keys are ${keys}`,
      );
    }
  });
}

/** The file's postern_oidc_<id>_<setting> keys, under their environment names. */
export function oidcVarsOf(file: Source): Source {
  return Object.fromEntries(Object.entries(file).flatMap(([key, value]) => (oidcFileKey.test(key) && value !== null ? [[key.toUpperCase(), value]] : [])));
}
