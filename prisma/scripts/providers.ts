// The two database providers Postern supports and where each keeps its schema and migrations.
import path from "node:path";

export const prismaDir = path.resolve(import.meta.dirname, "..");
export const providers = ["sqlite", "postgres"] as const;
export type Provider = (typeof providers)[number];

export function schemaPath(provider: Provider): string {
  return path.join(prismaDir, provider, "schema.prisma");
}
export function migratedSnapshotPath(provider: Provider): string {
  return path.join(prismaDir, provider, "migrations", "schema.snapshot.prisma");
}
export function migrationsDir(provider: Provider): string {
  return path.join(prismaDir, provider, "migrations");
}
export function configPath(provider: Provider): string {
  return path.join(prismaDir, provider, "prisma.config.ts");
}
export function prismaBin(): string {
  return path.join(prismaDir, "node_modules", "prisma", "build", "index.js");
}
