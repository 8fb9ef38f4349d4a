-- CreateIndex
CREATE INDEX "AccessSession_requestedAt_id_idx" ON "AccessSession"("requestedAt", "id");

-- CreateIndex
CREATE INDEX "AccessSession_userId_requestedAt_id_idx" ON "AccessSession"("userId", "requestedAt", "id");

-- CreateIndex
CREATE INDEX "AccessSession_serviceId_requestedAt_id_idx" ON "AccessSession"("serviceId", "requestedAt", "id");

