// A folder's state as the status bar, the commands and the extension's API see it, and what may be done
// about it. Pure and words-free (no vscode, lint-enforced): src/ui turns these into text.
import { HolderView, LockError, LockState, describeHolder, errorMessage, holderFields, type LockErrorCode, type LockErrorFacts, type LockProblem, type StaleCause, type UnknownHolder } from '../lock';

export type FolderPhase = 'holder' | 'follower' | 'free' | 'stale' | 'error';

export interface HolderSummary {
  kind: 'vscode' | 'cli' | 'unknown';
  label: string;
  pid?: number;
  hostname?: string;
  since?: string;
  tasks: Array<{ name: string; pid: number }>;
  /** An orphan: its process is gone while its tasks run on, since this time (ISO). */
  orphanedSince?: string;
  /** The engine's one-line description, in English: for the log. */
  description: string;
  /** Kind 'unknown': why (its `label` is the engine's English for it); for a corrupt record, what is wrong with it. */
  unknown?: UnknownHolder;
  unknownDetail?: string;
}

/** A lock error as data: the engine's code and facts, and its English message (the CLI's, the log's). */
export interface ErrorView {
  code: LockErrorCode | undefined;
  problem?: LockProblem;
  path?: string;
  detail?: string;
  owner?: string;
  message: string;
}

export function errorView(e: { code?: LockErrorCode; facts?: LockErrorFacts; message: string }): ErrorView {
  const f = e.facts ?? {};
  const out: ErrorView = { code: e.code, message: e.message };
  for (const k of ['problem', 'path', 'detail', 'owner'] as const) {
    if (f[k] !== undefined) {
      Object.assign(out, { [k]: f[k] });
    }
  }
  return out;
}

/** An error the engine threw, as data: a LockError's code and facts, else its message alone. */
export function errorViewOf(err: unknown): ErrorView {
  return err instanceof LockError ? errorView({ code: err.code, facts: err.facts, message: err.message }) : { code: undefined, message: errorMessage(err) };
}

/** One folder's state, as the status bar, the commands and the extension's API see it. */
export interface FolderStatus {
  folder: string;
  name: string;
  phase: FolderPhase;
  /** The guarded task labels of this folder. */
  tasks: string[];
  /** Guarded tasks running in this window (a compound task's dependencies by their own labels). */
  running: string[];
  /**
   * The guarded labels that do not run in this window; a compound task runs while any task of its dependsOn
   * tree does. Absent: the labels of `tasks` that `running` does not name.
   */
  missing?: string[];
  /** What each guarded compound task depends on, directly or not (its dependsOn tree, as labels). */
  dependsOn?: Record<string, string[]>;
  holder?: HolderSummary;
  /** Why the lock is stale, or the error a user can act on: the engine's English (the API's, the log's). */
  message?: string;
  /** Why the lock is stale, as data (phase 'stale'). */
  stale?: StaleCause;
  /** The error, as data (phase 'error'). */
  error?: ErrorView;
  /** How this window is named to the others (its holder label), so that a user can tell them apart. */
  window?: string;
  /**
   * The last guarded task this window stopped (or its gate refused) because another holder runs the folder's
   * tasks: its notification may be gone, the tooltip keeps it.
   */
  lastStop?: { task: string; holder: string; at: string; notStarted: boolean };
  /** Guarded labels that match no task of the folder: nothing runs under those names (a warning). */
  unknownLabels?: string[];
}

/**
 * A window's name while its extension host lives (a reload names it anew): the app, the time it started
 * (local time, to the second) and the
 * workspace. Every window on a folder has the same title, and the same app and workspace: the time sets
 * them apart, in the status bar, notifications, the log and `task-lock status`.
 */
export function windowName(app: string, workspace: string | undefined, opened: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  const time = `${two(opened.getHours())}:${two(opened.getMinutes())}:${two(opened.getSeconds())}`;
  return workspace ? `${app} window ${time} (${workspace})` : `${app} window ${time}`;
}

export function summarize(v: HolderView): HolderSummary {
  const f = holderFields(v);
  if (!f) {
    return {
      kind: 'unknown',
      label: v.unknownReason ?? 'unknown',
      tasks: [],
      description: describeHolder(v),
      ...(v.unknown === undefined ? {} : { unknown: v.unknown }),
      ...(v.unknown === 'corrupt' && v.unknownReason !== undefined ? { unknownDetail: v.unknownReason } : {}),
    };
  }
  return {
    kind: f.kind,
    label: f.label,
    pid: f.pid,
    hostname: f.hostname,
    since: f.since,
    tasks: f.tasks,
    ...(f.orphanedSince === undefined ? {} : { orphanedSince: f.orphanedSince }),
    description: describeHolder(v),
  };
}

/** The folder's status from what its guard knows: this window's handle (when it holds) or the lock's state. */
export function folderStatus(
  base: { folder: string; name: string; tasks: string[]; running: string[] },
  held: HolderView | undefined,
  state: LockState,
): FolderStatus {
  if (held) {
    return { ...base, phase: 'holder', holder: summarize(held) };
  }
  switch (state.state) {
    case 'free':
      return { ...base, phase: 'free' };
    case 'error':
      return { ...base, phase: 'error', message: state.message, error: errorView(state) };
    case 'stale':
      return { ...base, phase: 'stale', holder: summarize(state.holder), message: state.reason, stale: state.cause };
    default:
      // 'mine' with no handle here is a record of ours that this window no longer claims: show it as held.
      return { ...base, phase: 'follower', holder: summarize(state.holder) };
  }
}

export type ActionId = 'start' | 'stop' | 'takeOver' | 'reclaim' | 'showHolder' | 'guard' | 'showLog';

/** The actions that apply now, for the status bar's quick pick. */
export function applicableActions(folders: readonly FolderStatus[]): ActionId[] {
  const has = (p: FolderPhase): boolean => folders.some((f) => f.phase === p);
  const out: ActionId[] = [];
  if (has('free') || folders.some((f) => f.phase === 'holder' && (f.missing ?? f.tasks.filter((x) => !f.running.includes(x))).length > 0)) {
    out.push('start');
  }
  if (has('holder')) {
    out.push('stop');
  }
  if (has('follower')) {
    out.push('takeOver');
  }
  if (has('stale')) {
    out.push('reclaim');
  }
  if (has('follower') || has('holder') || has('stale')) {
    out.push('showHolder');
  }
  out.push('guard', 'showLog');
  return out;
}
