// Small runtime pieces the API and the gateway agent share (no dependencies).
export { SerialPoller } from "./serial-poller";
