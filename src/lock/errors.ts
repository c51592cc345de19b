/**
 * An error a person can act on: `message` names the problem and what to do. `code` lets callers
 * (CLI exit codes, the extension's notifications) branch without parsing text.
 */
export type LockErrorCode =
  | 'folder-missing'
  | 'folder-not-directory'
  | 'home-unusable'
  /** Another user's, or writable by others: refused rather than replaced, so that someone looks. */
  | 'home-unsafe'
  | 'held'
  | 'timeout'
  | 'handoff-refused'
  | 'handoff-no-answer'
  | 'not-same-host'
  | 'reclaim-failed'
  | 'io';

export class LockError extends Error {
  constructor(readonly code: LockErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LockError';
  }
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
