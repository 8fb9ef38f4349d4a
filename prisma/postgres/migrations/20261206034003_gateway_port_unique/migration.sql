-- One public port and protocol on one gateway forwards to one place. The services API checks it
-- before a binding is saved; two admins binding at the same moment (PostgreSQL, several
-- instances) could both pass that check. NULLs (services without a gateway) never clash.
-- CreateIndex
CREATE UNIQUE INDEX "Service_gatewayAgentId_gatewayPublicPort_gatewayProtocol_key" ON "Service"("gatewayAgentId", "gatewayPublicPort", "gatewayProtocol");

