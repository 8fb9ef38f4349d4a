-- When a relayed message was marked failed, so that retention counts its age from then (as from
-- sentAt for a sent one) and not from when it was queued. Messages that failed before this
-- migration keep NULL: retention falls back to their createdAt (relay.retention.ts).
-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "failedAt" TIMESTAMP(3);

-- CreateIndex
CREATE INDEX "Message_status_failedAt_idx" ON "Message"("status", "failedAt");

