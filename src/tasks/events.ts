// What the guards tell the rest of the extension. src/tasks emits these; src/ui chooses the words and the
// notifications. Plain data only, so this layer never needs to know how a message reads.
import type * as vscode from 'vscode';
import type { SettingProblem } from '../model/settings';
import type { ErrorView, HolderSummary } from '../model/status';
import type { FolderGuard } from './guard';

/** Why Take Over did not move the tasks here. `holderDead`: a forced reclaim would be the way on. */
export interface TakeOverFailure {
  /** The engine's error as data (its code undefined when there was no error to speak of, only a state). */
  error: ErrorView;
  /** The holder it is about, when known. */
  holder?: HolderSummary;
  holderDead: boolean;
  /** The holder is gone while its tasks run on, and they could not be moved here. */
  orphan: boolean;
}

export type ReclaimOutcome =
  | { result: 'reclaimed' }
  | { result: 'nothing' }
  | { result: 'alive'; holder: HolderSummary }
  | { result: 'error'; error: ErrorView };

/** What a `taskLock` task's terminal says when its process does not run. */
export type GateLine =
  /** Another holder runs the folder's tasks: not started here. */
  | { kind: 'refused'; holder: HolderSummary }
  /** The holder runs it: this terminal ends at once, successfully, so that what depends on it runs here (#10 D3). */
  | { kind: 'stands-in'; holder: HolderSummary }
  /** Its process could not be recorded in the lock (`detail`: the error), so it was not started. */
  | { kind: 'not-recorded'; detail: string }
  /** Its process could not be spawned (`detail`: the error, "spawn npm ENOENT"). */
  | { kind: 'spawn-failed'; detail: string };

export interface GuardEvents {
  /** Something a status reader shows changed. */
  changed(): void;
  /**
   * A guarded task was started here while another holder runs it: terminated, or (`notStarted`) refused by its
   * gate; `then` is what follows (taskLock.onConflict): a Take Over offered, one under way, the holder asked to
   * start it (it ran nowhere: #10 D4), or nothing.
   */
  intruderStopped(guard: FolderGuard, task: string, holder: HolderSummary, how: { notStarted: boolean; then: 'offer-take-over' | 'taking-over' | 'started-in-holder' | 'nothing' }): void;
  /** This window stopped its tasks and handed the lock to `to`: a window or a `task-lock run` (its label). */
  handedOver(guard: FolderGuard, tasks: readonly string[], to: { kind: string; label: string }): void;
  /** The lock was taken or removed underneath this window; its tasks were stopped. */
  compromised(guard: FolderGuard): void;
  /** Stop Guarded Tasks: the tasks did not stop, so the lock was kept. */
  stopFailed(guard: FolderGuard): void;
  takeOverFailed(guard: FolderGuard, failure: TakeOverFailure): void;
  /** A setting of the folder is invalid; its default is used. Once per folder, setting and problem. */
  settingInvalid(folder: string, setting: string, problem: SettingProblem): void;
  /** Guarded labels that match no task of the folder (once per label); `shown`: the labels that exist. */
  labelsUnknown(guard: FolderGuard, labels: readonly string[], shown: readonly string[]): void;
  /**
   * A task of `folder` that VS Code starts when the folder opens, not guarded, runs twice: another window
   * started it too. Once per folder and window.
   */
  folderOpenTwice(folder: vscode.WorkspaceFolder, task: string): void;
  /** The line a `taskLock` task prints in its terminal when its process does not run. */
  gateLine(task: string, line: GateLine): string;
}
