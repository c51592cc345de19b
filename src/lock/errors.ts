import type { HolderView } from './state';

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

/**
 * What is wrong, finer than the code, where one code covers several cases that read differently. The
 * editor words each in the user's language from these facts; the CLI prints the English `message`.
 */
export type LockProblem =
  /** io: the workspace folder cannot be read (`detail`: the error). */
  | 'folder-unreadable'
  /** io: the lock home cannot be read, the lock cannot be taken or recorded, the reclaim mutex not checked. */
  | 'cannot-read'
  | 'cannot-take'
  | 'cannot-record'
  | 'cannot-check'
  /** io: this process already holds the lock it asks for. */
  | 'already-held'
  /** home-unusable: a file or a symbolic link stands where a folder is needed. */
  | 'in-the-way'
  /** home-unusable: the folder cannot be written (`detail`: the errno code; `owner`: whose it is, when not yours). */
  | 'not-writable'
  /** home-unsafe: another user's folder (`owner`); or one others may write (`detail`: its mode). */
  | 'not-yours'
  | 'open-to-others'
  /** reclaim-failed: the lock folder holds files Task Lock did not put there. */
  | 'foreign-files'
  /** handoff-no-answer: no answer in time (`detail`: the seconds waited); or the channel closed unanswered. */
  | 'no-answer'
  | 'channel-closed'
  /** timeout: still held by a holder (`holder`), still reserved for a handoff, still being reclaimed. */
  | 'still-held'
  | 'still-reserved'
  | 'still-reclaimed';

/** The facts a LockError is made of: what the editor builds its sentences from. */
export interface LockErrorFacts {
  problem?: LockProblem;
  /** The path the error is about: the workspace folder, the lock home, the lock folder. */
  path?: string;
  /** A technical detail quoted as it is: an errno code or text, a mode, a number of seconds. */
  detail?: string;
  /** Whose folder it is, when not the user's: "alice (uid 1001)". */
  owner?: string;
  /** The holder it is about (handoff and waiting errors), as the engine saw it. */
  holder?: HolderView;
}

export class LockError extends Error {
  /**
   * For a failed handoff, the holder's part alone, to build another sentence around: its own words when it
   * refused ("it was started with --no-handoff"), what it did when it did not answer ("did not answer within 15 s").
   */
  readonly reason?: string;
  readonly facts: LockErrorFacts;

  constructor(readonly code: LockErrorCode, message: string, options?: { cause?: unknown; reason?: string; facts?: LockErrorFacts }) {
    super(message, options);
    this.name = 'LockError';
    this.reason = options?.reason;
    this.facts = options?.facts ?? {};
  }
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
