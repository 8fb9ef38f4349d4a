-- The mail server's last answer for each recipient still lacking a relayed message, so that
-- lastError names why one refused on an earlier attempt does not have it (relay.recipients.ts).
-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "recipientReplies" TEXT;

