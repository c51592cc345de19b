// Settings validation. Pure (no vscode, lint-enforced): it gets the raw values, so unit tests run it without
// an editor. It names problems by code; src/ui words them.
import { DEFAULT_STALE_MS, MAX_STALE_MS, MIN_STALE_MS } from '../lock';

export interface Settings {
  /** Labels of the guarded tasks; empty means the extension stays quiet for the folder. */
  tasks: string[];
  autoStart: boolean;
  failover: boolean;
  /** Every task of the folder's tasks.json with `"runOn": "folderOpen"` is guarded without naming it. */
  guardFolderOpenTasks: boolean;
  staleSeconds: number;
  /**
   * A guarded task started outside the holder (VS Code's `runOptions.instancePolicy` names): stop the new copy
   * and offer Take Over, take over at once (the new start wins), stop it with a plain notice, or only log it.
   */
  onConflict: ConflictPolicy;
  /** How long a window's tasks may run on without it (a closed window) before a follower moves them. */
  orphanGraceSeconds: number;
  /** Absolute, or undefined for the engine's default lock home in the folder. */
  lockDirectory: string | undefined;
}

export const MIN_STALE_SECONDS = MIN_STALE_MS / 1000;
export const MAX_STALE_SECONDS = MAX_STALE_MS / 1000;

export const MAX_ORPHAN_GRACE_SECONDS = 86_400;

export const CONFLICT_POLICIES = ['terminateNewest', 'terminateOldest', 'warn', 'silent'] as const;
export type ConflictPolicy = (typeof CONFLICT_POLICIES)[number];

export const DEFAULT_SETTINGS: Settings = { tasks: [], autoStart: true, failover: true, guardFolderOpenTasks: false, staleSeconds: DEFAULT_STALE_MS / 1000, onConflict: 'terminateNewest', orphanGraceSeconds: 30, lockDirectory: undefined };

/** What was wrong with a setting's value; the UI turns it into words. */
export type SettingProblem = 'not-a-label-list' | 'not-a-boolean' | 'stale-out-of-range' | 'grace-out-of-range' | 'not-a-conflict-policy' | 'not-a-path';

export interface SettingsRead {
  settings: Settings;
  /** One entry per invalid setting: the setting's full name and what was wrong. */
  warnings: Array<{ setting: string; problem: SettingProblem }>;
}

/**
 * `get(key)` returns the raw configured value of `taskLock.<key>` (undefined when not set). `folder` resolves
 * a relative lock directory. Every invalid value falls back to its default with a warning; nothing throws.
 */
export function readSettings(get: (key: keyof Settings) => unknown, folder: string, isAbsolute: (p: string) => boolean, join: (a: string, b: string) => string): SettingsRead {
  const warnings: SettingsRead['warnings'] = [];
  const s: Settings = { ...DEFAULT_SETTINGS, tasks: [] };

  const tasks = get('tasks');
  if (tasks !== undefined && tasks !== null) {
    if (Array.isArray(tasks) && tasks.every((t) => typeof t === 'string')) {
      // Duplicates and blanks teach nothing; keep the user's order for starting.
      s.tasks = [...new Set((tasks as string[]).map((t) => t.trim()).filter((t) => t.length > 0))];
    } else {
      warnings.push({ setting: 'taskLock.tasks', problem: 'not-a-label-list' });
    }
  }

  for (const key of ['autoStart', 'failover', 'guardFolderOpenTasks'] as const) {
    const v = get(key);
    if (v !== undefined && v !== null) {
      if (typeof v === 'boolean') {
        s[key] = v;
      } else {
        warnings.push({ setting: `taskLock.${key}`, problem: 'not-a-boolean' });
      }
    }
  }

  const stale = get('staleSeconds');
  if (stale !== undefined && stale !== null) {
    if (typeof stale === 'number' && Number.isFinite(stale) && stale >= MIN_STALE_SECONDS && stale <= MAX_STALE_SECONDS) {
      s.staleSeconds = stale;
    } else {
      warnings.push({ setting: 'taskLock.staleSeconds', problem: 'stale-out-of-range' });
    }
  }

  const conflict = get('onConflict');
  if (conflict !== undefined && conflict !== null) {
    if (typeof conflict === 'string' && (CONFLICT_POLICIES as readonly string[]).includes(conflict)) {
      s.onConflict = conflict as ConflictPolicy;
    } else {
      warnings.push({ setting: 'taskLock.onConflict', problem: 'not-a-conflict-policy' });
    }
  }

  const grace = get('orphanGraceSeconds');
  if (grace !== undefined && grace !== null) {
    if (typeof grace === 'number' && Number.isFinite(grace) && grace >= 0 && grace <= MAX_ORPHAN_GRACE_SECONDS) {
      s.orphanGraceSeconds = grace;
    } else {
      warnings.push({ setting: 'taskLock.orphanGraceSeconds', problem: 'grace-out-of-range' });
    }
  }

  const dir = get('lockDirectory');
  if (dir !== undefined && dir !== null) {
    if (typeof dir !== 'string') {
      warnings.push({ setting: 'taskLock.lockDirectory', problem: 'not-a-path' });
    } else if (dir.trim() !== '') {
      const d = dir.trim();
      s.lockDirectory = isAbsolute(d) ? d : join(folder, d);
    }
  }
  return { settings: s, warnings };
}

/** True when a change of these settings needs a new lock object (the others apply to the running one). */
export function lockSettingsDiffer(a: Settings, b: Settings): boolean {
  return a.staleSeconds !== b.staleSeconds || a.lockDirectory !== b.lockDirectory;
}
