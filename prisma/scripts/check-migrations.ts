// CI guard: fails when prisma/models.prisma changed without a migration for both providers,
// or when the generated per-provider schemas are stale.
import fs from "node:fs";
import { renderSchema } from "./build-schemas";
import { runPrisma } from "./prisma-cli";
import { migratedSnapshotPath, providers, schemaPath } from "./providers";

let failed = false;
for (const provider of providers) {
  if (fs.readFileSync(schemaPath(provider), "utf8") !== renderSchema(provider)) {
    console.error(`${provider}: schema.prisma is stale; run \`pnpm install\` or \`pnpm --filter @postern/db generate\``);
    failed = true;
    continue;
  }
  const snapshot = migratedSnapshotPath(provider);
  if (!fs.existsSync(snapshot)) {
    console.error(`${provider}: no migrations yet; run \`pnpm db:migration <name>\``);
    failed = true;
    continue;
  }
  const diff = runPrisma(provider, [
    "migrate", "diff", "--from-schema-datamodel", snapshot,
    "--to-schema-datamodel", schemaPath(provider), "--exit-code",
  ]);
  if (diff.status === 2) {
    console.error(`${provider}: models changed without a migration; run \`pnpm db:migration <name>\`\n${diff.stdout}`);
    failed = true;
  } else if (diff.status !== 0) {
    console.error(`${provider}: prisma migrate diff failed\n${diff.stderr}`);
    failed = true;
  } else {
    console.log(`${provider}: migrations match the models`);
  }
}
process.exit(failed ? 1 : 0);
