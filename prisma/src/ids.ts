// Ids for rows written with plain SQL (sql.ts), in the shape of Prisma's `cuid()`: a `c`, the
// time, a per-process counter and randomness, all base 36 — sortable by creation, unique.
import { randomBytes } from "node:crypto";

let counter = Math.floor(Math.random() * 36 ** 4);
const fingerprint = randomBytes(3).readUIntBE(0, 3).toString(36).padStart(4, "0").slice(-4);

export function newId(): string {
  counter = (counter + 1) % 36 ** 4;
  const time = Date.now().toString(36).padStart(8, "0");
  const random = randomBytes(6).readUIntBE(0, 6).toString(36).padStart(8, "0").slice(-8);
  return `c${time}${counter.toString(36).padStart(4, "0")}${fingerprint}${random}`;
}
