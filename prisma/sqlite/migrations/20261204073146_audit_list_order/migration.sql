-- DropIndex
DROP INDEX "AuditEvent_action_idx";

-- DropIndex
DROP INDEX "AuditEvent_actorId_idx";

-- DropIndex
DROP INDEX "AuditEvent_serviceId_idx";

-- CreateIndex
CREATE INDEX "AuditEvent_action_seq_idx" ON "AuditEvent"("action", "seq");

-- CreateIndex
CREATE INDEX "AuditEvent_actorId_seq_idx" ON "AuditEvent"("actorId", "seq");

-- CreateIndex
CREATE INDEX "AuditEvent_actorUsername_seq_idx" ON "AuditEvent"("actorUsername", "seq");

-- CreateIndex
CREATE INDEX "AuditEvent_serviceId_seq_idx" ON "AuditEvent"("serviceId", "seq");

