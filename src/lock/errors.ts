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
  /**
   * For a failed handoff, the holder's part alone, to build another sentence around: its own words when it
   * refused ("it was started with --no-handoff"), what it did when it did not answer ("did not answer within 15 s").
   */
  readonly reason?: string;

  constructor(readonly code: LockErrorCode, message: string, options?: { cause?: unknown; reason?: string }) {
    super(message, options);
    this.name = 'LockError';
    this.reason = options?.reason;
  }
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
