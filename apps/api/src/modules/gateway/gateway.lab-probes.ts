// The client-side programs of the network lab (gateway.lab.ts), run with `node -e` inside a
// client namespace. Each reads one request per stdin line and answers "ok" or "fail" per line.

/** A fresh HTTP GET per line (stdin: `host port timeoutMs`): can a new connection get through? */
export const PROBE_SCRIPT = `
const http = require("http");
require("readline").createInterface({ input: process.stdin }).on("line", (line) => {
  const [host, port, timeout] = line.split(" ");
  let done = false;
  const answer = (v) => { if (!done) { done = true; process.stdout.write(v + "\\n"); } };
  const req = http.get({ host, port: Number(port), path: "/", agent: false, timeout: Number(timeout) }, (res) => {
    let body = "";
    res.on("data", (d) => (body += d));
    res.on("end", () => answer(body === "lan-ok" ? "ok" : "fail"));
  });
  req.on("timeout", () => { req.destroy(); answer("fail"); });
  req.on("error", () => answer("fail"));
});
`;

/** One TCP connection made at start (argv: host port), never remade (stdin: `timeoutMs`): does an
 * established flow still get through? */
export const STREAM_SCRIPT = `
const [host, port] = process.argv.slice(1);
const socket = require("net").connect({ host, port: Number(port) });
let alive = true;
let buffer = "";
let pending = null;
socket.on("data", (d) => {
  buffer += d;
  if (pending && buffer.includes("lan-ok")) { buffer = ""; pending("ok"); }
});
const dead = () => { alive = false; if (pending) pending("fail"); };
socket.on("error", dead);
socket.on("close", dead);
require("readline").createInterface({ input: process.stdin }).on("line", (line) => {
  if (!alive) return void process.stdout.write("fail\\n");
  const timer = setTimeout(() => pending && pending("fail"), Number(line));
  pending = (v) => { clearTimeout(timer); pending = null; process.stdout.write(v + "\\n"); };
  socket.write("GET / HTTP/1.1\\r\\nHost: lan\\r\\n\\r\\n");
});
`;
