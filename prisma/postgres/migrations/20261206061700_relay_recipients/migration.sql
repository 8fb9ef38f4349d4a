-- Who already has a relayed message and who refused it for good, so that a retry goes only to
-- the rest (relay.worker.ts).
-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "deliveredTo" TEXT,
ADD COLUMN     "refusedTo" TEXT;
