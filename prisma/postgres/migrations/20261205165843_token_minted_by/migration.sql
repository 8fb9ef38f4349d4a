-- AlterTable
ALTER TABLE "ApiToken" ADD COLUMN     "mintedById" TEXT;

-- CreateIndex
CREATE INDEX "ApiToken_mintedById_idx" ON "ApiToken"("mintedById");

