// The forwards the agent last left in force, kept on disk. A door that closes while the agent is
// down (the kernel drops the element or stops matching the rule by itself) leaves its
// established flows alive in conntrack: only the agent cuts those, and after a restart it knows
// which doors it had open only from this file.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import { z } from "zod";
import { ruleKey, type FwRule } from "./rules";

const ZRemembered = z.object({
  rules: z.array(
    z.object({
      protocol: z.enum(["tcp", "udp"]),
      sourceIp: z.string(),
      publicPort: z.number().int(),
      lanHost: z.string(),
      lanPort: z.number().int(),
      expiresAt: z.number().nullable(),
    }),
  ),
});

const FILE = "doors.json";

export class DoorMemory {
  private last = "";
  private warned = false;

  /** `dir` null: nothing is remembered (the dry-run driver, or no writable place). */
  constructor(
    private readonly dir: string | null,
    private readonly log: Logger,
  ) {}

  /** The doors in force when the agent last ran; empty when unknown. */
  load(): FwRule[] {
    if (!this.dir) return [];
    let text: string;
    try {
      text = readFileSync(path.join(this.dir, FILE), "utf8");
    } catch {
      return [];
    }
    const parsed = ZRemembered.safeParse(safeJson(text));
    if (!parsed.success) {
      this.log.warn({ file: path.join(this.dir, FILE) }, "ignoring an unreadable record of open doors");
      return [];
    }
    const rules = parsed.data.rules.map(fromStored);
    this.last = signature(rules);
    return rules;
  }

  /** Records the doors in force now, when they differ from the last record (by key and target). */
  save(rules: FwRule[]): void {
    if (!this.dir) return;
    const sig = signature(rules);
    if (sig === this.last) return;
    const file = path.join(this.dir, FILE);
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const body = JSON.stringify({ rules: rules.map((r) => ({ ...r, expiresAt: Number.isFinite(r.expiresAt) ? r.expiresAt : null })) });
      // Written aside and renamed: a crash mid-write never leaves half a record.
      writeFileSync(`${file}.tmp`, body, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
      this.last = sig;
      this.warned = false;
    } catch (err) {
      if (!this.warned) {
        this.log.warn(
          { file, err: (err as Error).message },
          "cannot record open doors; after a restart, flows through doors that closed meanwhile are not cut (set POSTERN_AGENT_STATE_DIR)",
        );
      }
      this.warned = true;
    }
  }
}

const fromStored = (r: z.infer<typeof ZRemembered>["rules"][number]): FwRule => ({ ...r, expiresAt: r.expiresAt ?? Infinity });

const signature = (rules: FwRule[]) =>
  rules
    .map((r) => `${ruleKey(r)} ${r.lanHost}:${r.lanPort}`)
    .sort()
    .join("\n");

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
