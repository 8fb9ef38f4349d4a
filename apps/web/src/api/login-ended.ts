// Why the login page is showing although the user was logged in a moment ago: the login ended
// (logged out elsewhere, expired) or an admin disabled the account. The login page says so
// instead of showing a bare form.

export type LoginEnd = "ended" | "disabled";

let last: LoginEnd | null = null;

export function noteLoginEnded(why: LoginEnd): void {
  // "disabled" is the more useful news; a plain 401 that follows must not hide it.
  if (last !== "disabled") last = why;
}

/** The reason the login page should give, if any. */
export function peekLoginEnded(): LoginEnd | null {
  return last;
}

/** Said once: a later visit to the login page starts clean. */
export function clearLoginEnded(): void {
  last = null;
}

/** The words the server uses when it drops a disabled user's stream or login. */
export function mentionsDisabled(text: string): boolean {
  return /\bdisabled\b/i.test(text);
}
