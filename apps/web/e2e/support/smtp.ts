// A real SMTP server on 127.0.0.1 for the relay's browser tests: it takes every mail except for
// recipients it was told to refuse, which get a permanent 550 (a mailbox that does not exist).
// smtp-server is the API's test dependency, so it is loaded from there.
import { createRequire } from "node:module";
import type { AddressInfo, Server } from "node:net";
import path from "node:path";

const require = createRequire(path.resolve(import.meta.dirname, "../../../api/package.json"));

interface SmtpError extends Error {
  responseCode?: number;
}
type Done = (err?: SmtpError | null) => void;
interface SmtpServerLike {
  server: Server;
  listen(port: number, host: string, done: () => void): void;
  close(done: () => void): void;
  once(event: "error", listener: (err: Error) => void): void;
}
type SmtpServerClass = new (options: {
  authOptional: boolean;
  disabledCommands: string[];
  logger: boolean;
  onRcptTo: (address: { address: string }, session: unknown, done: Done) => void;
  onData: (stream: NodeJS.ReadableStream, session: unknown, done: Done) => void;
}) => SmtpServerLike;

export interface SmtpSink {
  /** The server's environment for a relay that mails these recipients through this sink. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startSmtpSink(recipients: string[], refuse: string[] = []): Promise<SmtpSink> {
  const { SMTPServer } = require("smtp-server") as { SMTPServer: SmtpServerClass };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onRcptTo(address, _session, done) {
      if (!refuse.includes(address.address)) return done();
      const err: SmtpError = new Error("no such mailbox");
      err.responseCode = 550;
      done(err);
    },
    onData(stream, _session, done) {
      stream.resume();
      stream.on("end", () => done());
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    env: { SMTP_URL: `smtp://127.0.0.1:${port}`, POSTERN_MAIL_FROM: "Postern <postern@example.test>", POSTERN_RELAY_TO: recipients.join(",") },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
