// A real SMTP server on 127.0.0.1 that accepts and drops every mail: the relay stays on during
// fuzzing without sending anything off the machine.
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export async function startSmtpSink(): Promise<{ env: Record<string, string>; close: () => Promise<void> }> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, _session, callback) {
      stream.resume();
      stream.on("end", () => callback());
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    env: { SMTP_URL: `smtp://127.0.0.1:${port}`, POSTERN_MAIL_FROM: "Postern <postern@example.test>", POSTERN_RELAY_TO: "ops@example.test" },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
