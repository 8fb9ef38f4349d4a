// Authors a migration for both providers from the change to prisma/models.prisma:
//   pnpm db:migration <name>
// `prisma migrate dev` cannot run through driver adapters here, so this diffs the schema the
// last migration was made from (the snapshot) against the current one, for each provider.
import fs from "node:fs";
import path from "node:path";
import { renderSchema } from "./build-schemas";
import { runPrisma } from "./prisma-cli";
import { migratedSnapshotPath, migrationsDir, providers, schemaPath } from "./providers";

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error("usage: pnpm db:migration <name>   (lower-case letters, digits and _)");
  process.exit(2);
}
const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);

for (const provider of providers) {
  fs.writeFileSync(schemaPath(provider), renderSchema(provider));
  const snapshot = migratedSnapshotPath(provider);
  const from = fs.existsSync(snapshot) ? ["--from-schema-datamodel", snapshot] : ["--from-empty"];
  const diff = runPrisma(provider, ["migrate", "diff", ...from, "--to-schema-datamodel", schemaPath(provider), "--script"]);
  if (diff.status !== 0) {
    console.error(`${provider}: prisma migrate diff failed\n${diff.stderr}`);
    process.exit(1);
  }
  if (!/^\s*(CREATE|ALTER|DROP|INSERT|UPDATE|PRAGMA)/im.test(diff.stdout)) {
    console.log(`${provider}: no schema change, no migration written`);
    continue;
  }
  const dir = path.join(migrationsDir(provider), `${stamp}_${name}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "migration.sql"), diff.stdout);
  const lock = path.join(migrationsDir(provider), "migration_lock.toml");
  fs.writeFileSync(lock, `provider = "${provider === "postgres" ? "postgresql" : "sqlite"}"\n`);
  fs.copyFileSync(schemaPath(provider), snapshot);
  console.log(`${provider}: wrote ${path.relative(process.cwd(), dir)}`);
}
