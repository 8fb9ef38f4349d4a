import { ZLoginErrorCode, type TLoginErrorCode } from "@postern/contracts";

const MESSAGES: Record<TLoginErrorCode, string> = {
  unknown_provider: "That login provider is not configured here.",
  provider_unavailable: "The login provider cannot be reached right now. Try again in a moment.",
  provider_error: "The login provider reported an error. Try again, or ask an admin.",
  invalid_state: "That login took too long or was opened twice. Please start again.",
  code_rejected: "The login provider did not accept the login. Please start again.",
  invalid_id_token: "The login provider's answer could not be verified. Ask an admin to check its settings.",
  signup_disabled: "There is no account for you yet, and sign-up is off. Ask an admin to create one.",
  user_disabled: "Your account is disabled. Ask an admin.",
  email_conflict: "Another account already uses your e-mail address. Ask an admin to link them.",
};

/** The sentence for `/login?error=<code>` after a failed OIDC login. */
export function loginErrorMessage(code: string): string {
  const parsed = ZLoginErrorCode.safeParse(code);
  return parsed.success ? MESSAGES[parsed.data] : "The login did not work. Please try again.";
}
