// The fuzzer's one stand-in, for `vi.mock("argon2", …)`: argon2 costs a large share of a second
// per password check on a busy 2-core machine, which would make a long run measure hashing
// instead of input handling. A hash here is a SHA-256 with argon2's interface; every other test
// (login, Basic, password changes) runs the real argon2id.
import { createHash } from "node:crypto";

const digest = (password: string) => `$fuzz$${createHash("sha256").update(`fuzz:${password}`).digest("hex")}`;

const argon2 = {
  argon2id: 2,
  hash: async (password: string) => digest(password),
  verify: async (hash: string, password: string) => hash === digest(password),
};

export default argon2;
