// User-facing errors: a bad file, flag or value becomes one clear sentence (which file or field, what
// was expected). The CLI prints `message` alone (no stack trace) and exits non-zero; the UI shows it.

export class UserError extends Error {
  override name = 'UserError';
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
