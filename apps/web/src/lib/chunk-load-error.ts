// Whether an error means a page's code could not be fetched (pages/admin/lazy.ts), as opposed to
// a bug in the page: only then does "reload to fetch it again" help the user.

// What each browser's import() rejects with when the file does not arrive (Chromium, Safari,
// Firefox), and what Vite's preloader throws when a page's CSS or JS dependency fails.
const MESSAGES = [/failed to fetch dynamically imported module/i, /importing a module script failed/i, /error loading dynamically imported module/i, /unable to preload (css|module)/i];

export function isChunkLoadError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === "ChunkLoadError") return true;
  return MESSAGES.some((m) => m.test(err.message));
}
