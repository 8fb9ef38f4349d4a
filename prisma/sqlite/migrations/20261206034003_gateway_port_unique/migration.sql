-- One public port and protocol on one gateway forwards to one place. The services API checks it
-- before a binding is saved; two admins binding at the same moment (PostgreSQL, several
-- instances) could both pass that check. NULLs (services without a gateway) never clash.
-- A database may already hold such a pair (written before the API checked, or by that race):
-- the older service keeps the forward, the later ones lose their binding (an admin binds them
-- again to a free port), so that the index can be made and Postern start.
UPDATE "Service" SET "gatewayAgentId" = NULL, "gatewayPublicPort" = NULL, "gatewayLanHost" = NULL, "gatewayLanPort" = NULL, "gatewayProtocol" = NULL
 WHERE "gatewayAgentId" IS NOT NULL
   AND EXISTS (
     SELECT 1 FROM "Service" o
      WHERE o."gatewayAgentId" = "Service"."gatewayAgentId"
        AND o."gatewayPublicPort" = "Service"."gatewayPublicPort"
        AND o."gatewayProtocol" = "Service"."gatewayProtocol"
        AND (o."createdAt" < "Service"."createdAt" OR (o."createdAt" = "Service"."createdAt" AND o."id" < "Service"."id"))
   );

-- CreateIndex
CREATE UNIQUE INDEX "Service_gatewayAgentId_gatewayPublicPort_gatewayProtocol_key" ON "Service"("gatewayAgentId", "gatewayPublicPort", "gatewayProtocol");

