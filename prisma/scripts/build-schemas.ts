// Writes prisma/<provider>/schema.prisma from the single model source prisma/models.prisma.
import fs from "node:fs";
import path from "node:path";
import { prismaDir, providers, schemaPath, type Provider } from "./providers";

const datasource: Record<Provider, string> = {
  // The URL is a literal on purpose: the Prisma CLI reads it before it loads the driver
  // adapter, and an unset env() would make it try to download a native engine.
  sqlite: 'provider = "sqlite"\n  url      = "file:./unused.db"',
  postgres: 'provider = "postgresql"\n  url      = "postgresql://unused@localhost/unused"',
};

export function renderSchema(provider: Provider): string {
  const models = fs.readFileSync(path.join(prismaDir, "models.prisma"), "utf8");
  return `// GENERATED from prisma/models.prisma by prisma/scripts/build-schemas.ts. Do not edit.
generator client {
  provider     = "prisma-client"
  output       = "../generated/${provider}"
  engineType   = "client"
  moduleFormat = "esm"
}

datasource db {
  ${datasource[provider]}
}

${models}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const provider of providers) {
    fs.writeFileSync(schemaPath(provider), renderSchema(provider));
  }
}
