-- AlterTable
ALTER TABLE "LoginThrottle" ADD COLUMN     "blockInFlight" BOOLEAN NOT NULL DEFAULT false;

