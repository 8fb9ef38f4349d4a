// `postern doctor`: a readable report of the configuration and every dependency, one ✓/✗ line
// each; exit status 1 when anything is broken (warnings do not fail it).
import type { Command } from "commander";
import { getConfigFile } from "./context";
import { runDoctor, type CheckResult, type Mark } from "./doctor-checks";

const marks: Record<Mark, string> = { ok: "✓", fail: "✗", warn: "!", skip: "–" };

export function formatReport(results: CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const lines = results.map((r) => `  ${marks[r.mark]} ${r.name.padEnd(width)}  ${r.detail}`);
  const failed = results.filter((r) => r.mark === "fail").length;
  const warned = results.filter((r) => r.mark === "warn").length;
  const summary =
    failed > 0
      ? `${failed} problem${failed > 1 ? "s" : ""} found${warned ? `, ${warned} warning${warned > 1 ? "s" : ""}` : ""}.`
      : `all good${warned ? ` (${warned} warning${warned > 1 ? "s" : ""})` : ""}.`;
  return `Postern doctor\n${lines.join("\n")}\n${summary}\n`;
}

export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description("check the configuration, the database and its migrations, SMTP, OIDC issuers and the tunnel")
    .action(async () => {
      const results = await runDoctor(process.env, getConfigFile());
      process.stdout.write(formatReport(results));
      const failed = results.filter((r) => r.mark === "fail").length;
      if (failed > 0) {
        // The report is on stdout; a script that reads stderr gets the one-line reason too.
        process.stderr.write(`postern: doctor found ${failed} problem${failed > 1 ? "s" : ""}; see the ✗ lines\n`);
        process.exitCode = 1;
      }
    });
}
