// The reconciler against the dry-run driver: real timers, real clock, no firewall.
import { afterEach, describe, expect, it } from "vitest";
import pino from "pino";
import type { TGatewayRule } from "@postern/contracts";
import { DryRunDriver } from "./drivers/dry-run";
import { Reconciler, type PassReport } from "./reconciler";
import type { FwRule } from "./rules";

const log = pino({ level: "silent" });
const apiRule = (over: Partial<TGatewayRule> = {}): TGatewayRule => ({
  sessionId: "s1",
  serviceId: "svc1",
  protocol: "tcp",
  sourceIp: "198.51.100.7",
  publicPort: 8443,
  lanHost: "10.0.0.5",
  lanPort: 443,
  expiresAt: new Date(Date.now() + 60_000).toISOString(),
  ...over,
});

class RecordingDriver extends DryRunDriver {
  cut: FwRule[] = [];
  override async cutFlows(rules: FwRule[]) {
    this.cut.push(...rules);
  }
}

let reconciler: Reconciler | undefined;
afterEach(() => reconciler?.stop());

describe("Reconciler with the dry-run driver", () => {
  it("applies the desired set, reports it, and removes what is no longer desired", async () => {
    const driver = new RecordingDriver(log);
    const reports: PassReport[] = [];
    reconciler = new Reconciler(driver, log, (r) => reports.push(r));
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
    reconciler = new Reconciler(driver, log, (r) => reports.push(r));
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
    reconciler = new Reconciler(driver, log, (r) => reports.push(r));
    await reconciler.setDesired([apiRule(), apiRule({ sessionId: "v6", sourceIp: "2001:db8::1" })], 3);
    expect(reports.at(-1)).toMatchObject({ version: 3, applied: 1, added: 1 });
    expect(reports.at(-1)?.error).toContain("not an IPv4 address");
  });

  it("turns a failing driver into a reported error, never a crash", async () => {
    const driver = new RecordingDriver(log);
    driver.list = async () => {
      throw new Error("nft lacks privileges");
    };
    const reports: PassReport[] = [];
    reconciler = new Reconciler(driver, log, (r) => reports.push(r));
    await reconciler.setDesired([apiRule()], 1);
    expect(reports.at(-1)).toMatchObject({ version: 1, error: "nft lacks privileges" });
  });
});
