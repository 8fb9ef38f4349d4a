// The thread that sends bench:live's measured requests (a start, an end, the bare server's
// broadcast), so that the websocket clients' work in the main thread does not delay them or their
// answers. Times are the process's monotonic clock (process.hrtime), the same in every thread.
import { parentPort } from "node:worker_threads";

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

parentPort.on("message", async ({ id, url, init }) => {
  const sent = nowMs();
  try {
    const res = await fetch(url, init);
    const text = await res.text();
    parentPort.postMessage({ id, sent, answered: nowMs(), status: res.status, text });
  } catch (err) {
    parentPort.postMessage({ id, sent, answered: nowMs(), status: 0, text: String(err) });
  }
});
