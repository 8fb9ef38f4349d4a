// Ids for rows written with plain SQL (sql.ts), in the shape of Prisma's `cuid()`: a `c`, the
// time, a per-process counter and randomness, all base 36 — sortable by creation, unique.
import { randomBytes } from "node:crypto";

let counter = Math.floor(Math.random() * 36 ** 4);
const fingerprint = randomBytes(3).readUIntBE(0, 3).toString(36).padStart(4, "0").slice(-4);

// Randomness drawn a few kilobytes at a time: a change makes two or three ids, and a call into
// the CSPRNG per id cost more than the rest of making it.
const RANDOM_BYTES = 6;
const POOL_BYTES = RANDOM_BYTES * 512;
let pool = Buffer.alloc(0);
let offset = 0;

function random48(): number {
  if (offset + RANDOM_BYTES > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const value = pool.readUIntBE(offset, RANDOM_BYTES);
  offset += RANDOM_BYTES;
  return value;
}

export function newId(): string {
  counter = (counter + 1) % 36 ** 4;
  const time = Date.now().toString(36).padStart(8, "0");
  const random = random48().toString(36).padStart(8, "0").slice(-8);
  return `c${time}${counter.toString(36).padStart(4, "0")}${fingerprint}${random}`;
}
