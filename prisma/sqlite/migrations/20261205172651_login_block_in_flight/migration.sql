-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_LoginThrottle" (
    "key" TEXT NOT NULL PRIMARY KEY,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "windowStartedAt" DATETIME NOT NULL,
    "blockedUntil" DATETIME,
    "reportedUntil" DATETIME,
    "blockInFlight" BOOLEAN NOT NULL DEFAULT false,
    "updatedAt" DATETIME NOT NULL
);
INSERT INTO "new_LoginThrottle" ("blockedUntil", "failures", "key", "reportedUntil", "updatedAt", "windowStartedAt") SELECT "blockedUntil", "failures", "key", "reportedUntil", "updatedAt", "windowStartedAt" FROM "LoginThrottle";
DROP TABLE "LoginThrottle";
ALTER TABLE "new_LoginThrottle" RENAME TO "LoginThrottle";
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

