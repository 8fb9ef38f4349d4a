// The reconciler against the dry-run driver: real timers, real clock, no firewall.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import pino from "pino";
import { apiRule } from "../test/rules";
import { DoorMemory } from "./door-memory";
import { HostResolver } from "./resolver";
import { DryRunDriver } from "./drivers/dry-run";
import { MAX_ERROR_CHARS, Reconciler, type PassReport } from "./reconciler";
import type { FwRule } from "./rules";

const log = pino({ level: "silent" });

class RecordingDriver extends DryRunDriver {
  cut: FwRule[] = [];
  override async cutFlows(rules: FwRule[]) {
    this.cut.push(...rules);
  }
}

/** A process that dies while the closed doors' flows are being cut: the cut never ends. */
class DyingCutter extends RecordingDriver {
  override cutFlows() {
    return new Promise<void>(() => undefined);
  }
}

let reconciler: Reconciler | undefined;
afterEach(() => reconciler?.stop());

describe("Reconciler with the dry-run driver", () => {
  it("applies the desired set, reports it, and removes what is no longer desired", async () => {
    const driver = new RecordingDriver(log);
    const reports: PassReport[] = [];
    reconciler = new Reconciler(driver, log, { onPass: (r) => reports.push(r) });
    await reconciler.setDesired([apiRule(), apiRule({ sessionId: "s2", sourceIp: "198.51.100.8" })], 1);
    expect((await driver.list()).map((r) => r.sourceIp).sort()).toEqual(["198.51.100.7", "198.51.100.8"]);
    expect(reports.at(-1)).toEqual({ version: 1, applied: 2, added: 2, removed: 0 });

    await reconciler.setDesired([apiRule()], 2);
    expect((await driver.list()).map((r) => r.sourceIp)).toEqual(["198.51.100.7"]);
    expect(reports.at(-1)).toEqual({ version: 2, applied: 1, added: 0, removed: 1 });
    await reconciler.flowsCut();
    expect(driver.cut.map((r) => r.sourceIp)).toEqual(["198.51.100.8"]);
  });

  it("removes a rule at its expiry by itself, with no further word from the API", async () => {
    const driver = new RecordingDriver(log);
    const reports: PassReport[] = [];
    reconciler = new Reconciler(driver, log, { onPass: (r) => reports.push(r) });
    await reconciler.setDesired([apiRule({ expiresAt: new Date(Date.now() + 300).toISOString() })], 1);
    expect(await driver.list()).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 450));
    expect(await driver.list()).toHaveLength(0);
    await reconciler.flowsCut();
    expect(driver.cut).toHaveLength(1);
    expect(reports.at(-1)).toMatchObject({ applied: 0 });
  });

  it("on start without the API drops expired and expiry-less rules but keeps live ones", async () => {
    const driver = new RecordingDriver(log);
    const live: FwRule = { protocol: "tcp", sourceIp: "198.51.100.7", publicPort: 1, lanHost: "10.0.0.5", lanPort: 1, expiresAt: Date.now() + 60_000 };
    await driver.apply([], [live, { ...live, sourceIp: "198.51.100.9", expiresAt: Infinity }]);
    reconciler = new Reconciler(driver, log);
    await reconciler.poke();
    expect(await driver.list()).toEqual([live]);
  });

  it("reports rules it cannot apply as the error while applying the rest", async () => {
    const driver = new RecordingDriver(log);
    const reports: PassReport[] = [];
    reconciler = new Reconciler(driver, log, { onPass: (r) => reports.push(r) });
    await reconciler.setDesired([apiRule(), apiRule({ sessionId: "v6", sourceIp: "2001:db8::1" })], 3);
    expect(reports.at(-1)).toMatchObject({ version: 3, applied: 1, added: 1 });
    expect(reports.at(-1)?.error).toContain("not an IPv4 address");
  });

  it("keeps the reported error within what the API accepts, however many rules it left out", async () => {
    const driver = new RecordingDriver(log);
    const reports: PassReport[] = [];
    reconciler = new Reconciler(driver, log, { onPass: (r) => reports.push(r) });
    const many = Array.from({ length: 200 }, (_, i) => apiRule({ sessionId: `v6-${i}`, sourceIp: `2001:db8::${i}` }));
    await reconciler.setDesired([apiRule(), ...many], 5);
    const error = reports.at(-1)!.error!;
    expect(error.length).toBeLessThanOrEqual(MAX_ERROR_CHARS);
    expect(error).toMatch(/^session v6-0: source 2001:db8::0 is not an IPv4 address; .*; and \d+ more$/);
    const shown = error.split("; ").length - 1;
    expect(error.endsWith(`and ${200 - shown} more`)).toBe(true);
  });

  it("turns a failing driver into a reported error, never a crash", async () => {
    const driver = new RecordingDriver(log);
    driver.list = async () => {
      throw new Error("nft lacks privileges");
    };
    const reports: PassReport[] = [];
    reconciler = new Reconciler(driver, log, { onPass: (r) => reports.push(r) });
    await reconciler.setDesired([apiRule()], 1);
    expect(reports.at(-1)).toMatchObject({ version: 1, error: "nft lacks privileges" });
  });

  it("makes its table again when a firewall reload took it away, and puts the doors back", async () => {
    // Like nftables after `flush ruleset`: the table is gone, listing it finds nothing, and
    // writing into it fails until it is made again.
    class ReloadedFirewall extends RecordingDriver {
      exists = true;
      inits = 0;
      override async init() {
        this.exists = true;
        this.inits += 1;
      }
      override async list() {
        return this.exists ? super.list() : [];
      }
      override async apply(remove: FwRule[], add: FwRule[]) {
        if (!this.exists) throw new Error("Error: No such file or directory; did you mean table 'postern' in family ip?");
        return super.apply(remove, add);
      }
      override async teardown() {
        this.exists = false;
        await super.teardown();
      }
    }
    const driver = new ReloadedFirewall(log);
    const reports: PassReport[] = [];
    reconciler = new Reconciler(driver, log, { onPass: (r) => reports.push(r) });
    const second = apiRule({ sessionId: "s2", sourceIp: "198.51.100.8" });
    await reconciler.setDesired([apiRule()], 1);
    await driver.teardown();
    await reconciler.setDesired([apiRule(), second], 2);
    expect(driver.inits).toBe(1);
    expect((await driver.list()).map((r) => r.sourceIp).sort()).toEqual(["198.51.100.7", "198.51.100.8"]);
    expect(reports.at(-1)).toEqual({ version: 2, applied: 2, added: 2, removed: 0 });
  });

  it("cuts a rule's flows when it finds the rule already gone or expired at start", async () => {
    const driver = new RecordingDriver(log);
    // Like iptables: an expired rule is still listed until it is deleted.
    const expired: FwRule = { protocol: "udp", sourceIp: "198.51.100.7", publicPort: 51820, lanHost: "10.0.0.5", lanPort: 51820, expiresAt: Date.now() - 1000 };
    driver.list = async () => [expired];
    reconciler = new Reconciler(driver, log);
    await reconciler.poke();
    await reconciler.flowsCut();
    expect(driver.cut).toEqual([expired]);
  });
});

describe("doors that closed while the agent was down", () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("a door closed just before a crash has its flows cut by the next run", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "postern-agent-"));
    dirs.push(dir);
    const crashed = new Reconciler(new DyingCutter(log), log, { memory: new DoorMemory(dir, log) });
    await crashed.setDesired([apiRule()], 1);
    await crashed.setDesired([], 2);
    void crashed.stop();

    const second = new RecordingDriver(log);
    reconciler = new Reconciler(second, log, { memory: new DoorMemory(dir, log) });
    await reconciler.poke();
    await reconciler.flowsCut();
    expect(second.cut.map((r) => r.sourceIp)).toEqual(["198.51.100.7"]);
  });

  it("a door retargeted and then closed just before a crash has the flows of each target cut", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "postern-agent-"));
    dirs.push(dir);
    const crashed = new Reconciler(new DyingCutter(log), log, { memory: new DoorMemory(dir, log) });
    await crashed.setDesired([apiRule({ lanHost: "10.0.0.5" })], 1);
    // The service moved to another LAN host while the session was open, then the session ended.
    await crashed.setDesired([apiRule({ lanHost: "10.0.0.6" })], 2);
    await crashed.setDesired([], 3);
    void crashed.stop();

    const second = new RecordingDriver(log);
    reconciler = new Reconciler(second, log, { memory: new DoorMemory(dir, log) });
    await reconciler.poke();
    await reconciler.flowsCut();
    expect(second.cut.map((r) => r.lanHost).sort()).toEqual(["10.0.0.5", "10.0.0.6"]);
  });

  it("does not cut the flows of a door opened again, with the same target, before its cut succeeded", async () => {
    class FailingOnce extends RecordingDriver {
      failures = 1;
      override async cutFlows(rules: FwRule[]) {
        if (this.failures-- > 0) throw new Error("conntrack: Operation not permitted");
        await super.cutFlows(rules);
      }
    }
    const driver = new FailingOnce(log);
    reconciler = new Reconciler(driver, log);
    await reconciler.setDesired([apiRule()], 1);
    await reconciler.setDesired([], 2);
    await reconciler.flowsCut();
    expect(driver.failures).toBe(0);
    // The same person starts again on the same service: the next pass must not cut that session's flows.
    await reconciler.setDesired([apiRule({ sessionId: "s2" })], 3);
    await reconciler.flowsCut();
    expect(driver.cut).toEqual([]);
  });

  it("are remembered on disk, and their flows cut by the next run", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "postern-agent-"));
    dirs.push(dir);
    const first = new RecordingDriver(log);
    reconciler = new Reconciler(first, log, { memory: new DoorMemory(dir, log) });
    await reconciler.setDesired([apiRule({ expiresAt: new Date(Date.now() + 200).toISOString() })], 1);
    reconciler.stop();

    // The agent is down when the door expires: the kernel drops the rule, nobody cuts its flows.
    await new Promise((r) => setTimeout(r, 300));
    const second = new RecordingDriver(log);
    reconciler = new Reconciler(second, log, { memory: new DoorMemory(dir, log) });
    await reconciler.poke();
    await reconciler.flowsCut();
    expect(second.cut.map((r) => `${r.sourceIp}:${r.publicPort}`)).toEqual(["198.51.100.7:8443"]);

    // Cut once: a third run has nothing left to cut.
    reconciler.stop();
    const third = new RecordingDriver(log);
    reconciler = new Reconciler(third, log, { memory: new DoorMemory(dir, log) });
    await reconciler.poke();
    await reconciler.flowsCut();
    expect(third.cut).toEqual([]);
  });
});

describe("LAN host names", () => {
  it("a lookup that never answers delays neither removals nor other doors", async () => {
    const driver = new RecordingDriver(log);
    let lookups = 0;
    const hosts = new HostResolver(() => void reconciler?.poke(), () => (lookups++, new Promise<string>(() => undefined)), 60_000);
    reconciler = new Reconciler(driver, log, { hosts });
    await reconciler.setDesired([apiRule({ sourceIp: "198.51.100.9" })], 1);
    const started = Date.now();
    await reconciler.setDesired([apiRule({ lanHost: "nas.lan" }), apiRule({ sessionId: "s2", lanHost: "nas.lan", sourceIp: "198.51.100.8" }), apiRule({ sessionId: "s3", publicPort: 22, lanPort: 22 })], 2);
    expect(Date.now() - started).toBeLessThan(500);
    expect((await driver.list()).map((r) => `${r.sourceIp}:${r.publicPort}`)).toEqual(["198.51.100.7:22"]);
    await reconciler.flowsCut();
    expect(driver.cut.map((r) => r.sourceIp)).toEqual(["198.51.100.9"]);
    expect(lookups).toBe(1);
  });

  it("keeps a door to a host being looked up as it is, and applies the answer when it comes", async () => {
    const driver = new RecordingDriver(log);
    let answer: (address: string) => void = () => undefined;
    const hosts = new HostResolver(() => void reconciler?.poke(), () => new Promise<string>((resolve) => (answer = resolve)));
    const existing: FwRule = { protocol: "tcp", sourceIp: "198.51.100.7", publicPort: 8443, lanHost: "10.0.0.5", lanPort: 443, expiresAt: Date.now() + 60_000 };
    await driver.apply([], [existing]);
    const reports: PassReport[] = [];
    reconciler = new Reconciler(driver, log, { hosts, onPass: (r) => reports.push(r) });
    const expiresAt = new Date(existing.expiresAt).toISOString();
    await reconciler.setDesired([apiRule({ lanHost: "nas.lan", expiresAt })], 1);
    expect(await driver.list()).toEqual([existing]);
    expect(reports.at(-1)).toMatchObject({ applied: 1, removed: 0 });

    answer("10.0.0.6");
    await new Promise((r) => setTimeout(r, 20));
    await reconciler.poke();
    expect((await driver.list()).map((r) => r.lanHost)).toEqual(["10.0.0.6"]);
    await reconciler.flowsCut();
    expect(driver.cut.map((r) => r.lanHost)).toEqual(["10.0.0.5"]);
  });

  it("reports a host that does not resolve, naming it", async () => {
    const driver = new RecordingDriver(log);
    const hosts = new HostResolver(() => void reconciler?.poke(), async () => {
      throw new Error("getaddrinfo ENOTFOUND nas.lan");
    });
    const reports: PassReport[] = [];
    reconciler = new Reconciler(driver, log, { hosts, onPass: (r) => reports.push(r) });
    await reconciler.setDesired([apiRule({ lanHost: "nas.lan" })], 1);
    await new Promise((r) => setTimeout(r, 20));
    await reconciler.poke();
    expect(reports.at(-1)?.error).toContain("LAN host nas.lan does not resolve");
    expect(reports.at(-1)?.error).toContain("ENOTFOUND");
  });
});

describe("the API's clock", () => {
  it("decides when a door closes, whatever this machine's clock says", async () => {
    const driver = new RecordingDriver(log);
    reconciler = new Reconciler(driver, log);
    const hour = 3600_000;
    // The API's clock is an hour ahead of this one: its expiry reads an hour later too.
    const apiNow = Date.now() + hour;
    await reconciler.setDesired([apiRule({ expiresAt: new Date(apiNow + 300).toISOString() })], 1, new Date(apiNow).toISOString());
    const [rule] = await driver.list();
    expect(rule!.expiresAt - Date.now()).toBeLessThan(400);
    await new Promise((r) => setTimeout(r, 450));
    expect(await driver.list()).toHaveLength(0);
  });

  it("closes a door on time when this machine's clock steps back while the API is unreachable", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      // The dry-run driver expires rules on the wall clock, as iptables' xt_time does (nft's
      // timeouts run on the monotonic clock: there the step would re-add a door the kernel closed).
      const driver = new RecordingDriver(log);
      reconciler = new Reconciler(driver, log);
      const apiNow = Date.now();
      await reconciler.setDesired([apiRule({ expiresAt: new Date(apiNow + 300).toISOString() })], 1, new Date(apiNow).toISOString());
      expect(await driver.list()).toHaveLength(1);
      // NTP steps the clock an hour back (the fake Date stands still otherwise); no word comes
      // from the API after this. The door closes on its own timer, at the API's time.
      vi.setSystemTime(apiNow - 3600_000);
      await new Promise((r) => setTimeout(r, 450));
      expect(await driver.list()).toEqual([]);
      await reconciler.flowsCut();
      expect(driver.cut).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("reports rules the agent could not read beside the ones it applied", async () => {
    const driver = new RecordingDriver(log);
    const reports: PassReport[] = [];
    reconciler = new Reconciler(driver, log, { onPass: (r) => reports.push(r) });
    await reconciler.setDesired([apiRule()], 4, undefined, ["session s9: cannot read protocol: invalid option"]);
    expect(reports.at(-1)).toMatchObject({ version: 4, applied: 1, error: "session s9: cannot read protocol: invalid option" });
  });
});
