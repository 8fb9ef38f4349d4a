-- CreateIndex
CREATE INDEX "Message_createdAt_id_idx" ON "Message"("createdAt", "id");

-- CreateIndex
CREATE INDEX "Message_status_createdAt_id_idx" ON "Message"("status", "createdAt", "id");

-- CreateIndex
CREATE INDEX "Message_status_sentAt_idx" ON "Message"("status", "sentAt");

