// The thread that sends bench:live's measured requests (a start, an end, the bare server's
// broadcast), so that the websocket clients' work in the main thread does not delay them or their
// answers. Times are the process's monotonic clock (process.hrtime), the same in every thread.
import os from "node:os";
import { parentPort } from "node:worker_threads";

// On Linux a thread has its own nice value; pid 0 is this thread. See run.ts on why.
try {
  os.setPriority(0, -10);
  parentPort.postMessage({ priority: os.getPriority(0) });
} catch (err) {
  parentPort.postMessage({ priority: null, reason: err.code ?? String(err) });
}

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
