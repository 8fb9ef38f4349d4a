// The baseline: a bare `ws` server that broadcasts whatever is POSTed to /broadcast to every
// connected client, with nothing else in the way (no auth, no database, no filtering).
import http from "node:http";
import { WebSocketServer } from "ws";
import { keepTickShape } from "../../apps/api/bin/keep-tick-shape.mjs";

// At its best: the same guard as Postern's entry point (see apps/api/bin/keep-tick-shape.mjs).
await keepTickShape();

const server = http.createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/broadcast") {
    res.writeHead(404).end();
    return;
  }
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    const data = Buffer.from(body);
    for (const client of wss.clients) client.send(data, { binary: false });
    res.writeHead(204).end();
  });
});
const wss = new WebSocketServer({ server, path: "/ws" });
server.listen(0, "127.0.0.1", 511, () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
