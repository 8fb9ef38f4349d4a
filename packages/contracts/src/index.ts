// Postern's API contract: zod schemas for every request, response and error, shared by the
// API (validation) and the SPA (types and response parsing). No Prisma, no Fastify here.
export * from "./common";
export * from "./errors";
export * from "./users";
export * from "./auth";
export * from "./services";
export * from "./sessions";
export * from "./audit";
export * from "./tokens";
export * from "./messages";
export * from "./events";
export * from "./live";
export * from "./tunnel";
export * from "./gateway";
