// The status bar's words, computed from the plain status objects of src/model. Pure, so unit tests render it
// without an editor: the editor passes vscode.l10n, tests `plain` or a pseudo-locale. The import of 'vscode' is
// for its types only; it is also what makes @vscode/l10n-dev read this file's `l10n.t(...)` calls (it extracts
// messages only from files that import 'vscode').
import type * as vscode from 'vscode';
import type { FolderPhase, FolderStatus } from '../model/status';
import { clockTime, holderName, plain, statusNote, taskPids, type L10n } from './lockWords';

export { clockTime, holderName, l10nFrom, plain, sinceWords, type L10n } from './lockWords';

export interface StatusView {
  visible: boolean;
  text: string;
  tooltip: string;
  background: 'warning' | 'error' | undefined;
  ariaLabel: string;
}

function taskList(tasks: readonly string[]): string {
  return tasks.join(', ');
}

function oneLine(f: FolderStatus, now: Date, l10n: L10n): { text: string; aria: string } {
  switch (f.phase) {
    case 'holder': {
      const tasks = f.running.length > 0 ? f.running : f.tasks;
      return { text: `$(lock) ${l10n.t('this window runs {0}', taskList(tasks))}`, aria: l10n.t('Task Lock: this window runs {0}', taskList(tasks)) };
    }
    case 'follower': {
      // What the holder really runs (its record lists it), not what this window guards: a task the holder's
      // user stopped runs nowhere. A holder that runs nothing recorded (yet) still holds the folder.
      const running = [...new Set((f.holder?.tasks ?? []).map((x) => x.name))];
      if (running.length === 0 && f.holder?.kind === 'vscode') {
        return { text: `$(eye) ${l10n.t('{0} holds the lock', holderName(f.holder, l10n))}`, aria: l10n.t('Task Lock: {0} holds the lock, running no guarded task', holderName(f.holder, l10n)) };
      }
      const tasks = running.length > 0 ? running : f.tasks;
      const orphaned = f.holder?.orphanedSince;
      if (orphaned !== undefined) {
        const since = clockTime(orphaned, now);
        return f.holder?.kind === 'cli'
          ? { text: `$(debug-disconnect) ${l10n.t('{0} runs without its task-lock run since {1}', taskList(tasks), since)}`, aria: l10n.t('Task Lock: {0} runs on since {1}, its task-lock run was ended', taskList(tasks), since) }
          : { text: `$(debug-disconnect) ${l10n.t('{0} runs without a window since {1}', taskList(tasks), since)}`, aria: l10n.t('Task Lock: {0} runs on since {1}, the window that ran it is gone', taskList(tasks), since) };
      }
      return { text: `$(eye) ${l10n.t('{0} runs in {1}', taskList(tasks), holderName(f.holder, l10n))}`, aria: l10n.t('Task Lock: {0} runs in {1}', taskList(tasks), holderName(f.holder, l10n)) };
    }
    // No "Task Lock:" prefix in any state: the icon and the guarded labels say whose item it is, as in the others.
    case 'free':
      return { text: `$(unlock) ${l10n.t('{0}: lock free', taskList(f.tasks))}`, aria: l10n.t('Task Lock: the lock is free') };
    case 'stale':
      return { text: `$(warning) ${l10n.t('{0}: stale lock', taskList(f.tasks))}`, aria: l10n.t('Task Lock: the lock is stale') };
    case 'error':
      return { text: `$(error) ${l10n.t('{0}: lock unusable', taskList(f.tasks))}`, aria: l10n.t('Task Lock: the lock cannot be used') };
  }
}

/** Markdown special characters in labels and paths must show as text. */
export function escapeMarkdown(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!<>|~]/g, (c) => `\\${c}`);
}

function describeFolder(f: FolderStatus, now: Date, l10n: L10n): string {
  const lines: string[] = [];
  const phase: Record<FolderPhase, string> = {
    holder: l10n.t('this window holds the lock'),
    follower: l10n.t('another holder runs the tasks'),
    free: l10n.t('the lock is free'),
    stale: l10n.t('the lock is stale'),
    error: l10n.t('the lock cannot be used'),
  };
  lines.push(`**${escapeMarkdown(f.name)}**: ${phase[f.phase]}`);
  lines.push('');
  lines.push(`- ${l10n.t('Guarded tasks: {0}', escapeMarkdown(taskList(f.tasks)))}`);
  for (const [label, deps] of Object.entries(f.dependsOn ?? {})) {
    lines.push(`- ${l10n.t('{0} depends on {1}: guarded with it', escapeMarkdown(label), escapeMarkdown(taskList(deps)))}`);
  }
  const h = f.holder;
  if (h && f.phase !== 'free') {
    // An unknown holder's label is the engine's English for why it is unknown: its name says that in words.
    lines.push(
      h.kind === 'unknown'
        ? `- ${l10n.t('Holder: {0}', escapeMarkdown(holderName(h, l10n)))}`
        : `- ${l10n.t('Holder: {0}, {1}', h.kind === 'cli' ? l10n.t('task-lock run (CLI)') : l10n.t('editor window'), escapeMarkdown(h.label))}`,
    );
    if (h.pid !== undefined) {
      lines.push(`- ${l10n.t('Process: pid {0} on {1}', h.pid, escapeMarkdown(h.hostname ?? '?'))}`);
    }
    if (h.since !== undefined) {
      lines.push(`- ${l10n.t('Since: {0}', escapeMarkdown(clockTime(h.since, now)))}`);
    }
    if (h.tasks.length > 0) {
      lines.push(`- ${l10n.t('Running: {0}', escapeMarkdown(taskPids(h.tasks, l10n)))}`);
    }
    if (h.orphanedSince !== undefined) {
      const since = escapeMarkdown(clockTime(h.orphanedSince, now));
      lines.push(
        `- ${
          h.kind === 'cli'
            ? l10n.t('Its task-lock run was ended at {0}; its command runs on. Take Over stops it (after asking) and runs the tasks here.', since)
            : l10n.t('Its window is gone since {0}; its tasks run on. After taskLock.orphanGraceSeconds a waiting window stops them and runs them; Take Over does it now.', since)
        }`,
      );
    }
  }
  const note = statusNote(f, l10n);
  if (note !== undefined) {
    lines.push(`- ${escapeMarkdown(note)}`);
  }
  if (f.unknownLabels !== undefined && f.unknownLabels.length > 0) {
    lines.push(`- ${l10n.t('No task of this folder has the label {0} (taskLock.tasks): nothing is guarded under that name.', escapeMarkdown(f.unknownLabels.map((x) => `“${x}”`).join(', ')))}`);
  }
  if (f.lastStop !== undefined && f.phase === 'follower') {
    const at = escapeMarkdown(clockTime(f.lastStop.at, now));
    const task = escapeMarkdown(f.lastStop.task);
    const holder = escapeMarkdown(f.lastStop.holder);
    lines.push(`- ${f.lastStop.notStarted ? l10n.t('Refused here at {0}: {1} (the lock is {2}\'s)', at, task, holder) : l10n.t('Stopped here at {0}: {1} (the lock is {2}\'s)', at, task, holder)}`);
  }
  if (f.window !== undefined) {
    lines.push(`- ${l10n.t('This window: {0}', escapeMarkdown(f.window))}`);
  }
  return lines.join('\n');
}

/**
 * Multi-root: one item sums every guarded folder up; the tooltip lists each. `restricted`: the workspace is not
 * trusted (Restricted Mode), where this window shows the locks but starts no task: the tooltip says so.
 * Times are worded against `now`, the caller's clock. (`vscode.l10n` is what the editor passes.)
 */
export function renderStatus(folders: readonly FolderStatus[], now: Date, l10n: Pick<typeof vscode.l10n, 't'> = plain, restricted = false): StatusView {
  if (folders.length === 0) {
    return { visible: false, text: '', tooltip: '', background: undefined, ariaLabel: '' };
  }
  const background = folders.some((f) => f.phase === 'error') ? 'error' : folders.some((f) => f.phase === 'stale' || (f.unknownLabels?.length ?? 0) > 0) ? 'warning' : undefined;
  const trust = restricted ? `\n\n${l10n.t('Restricted Mode: this window starts no guarded task until you trust the workspace.')}` : '';
  const tooltip = folders.map((f) => describeFolder(f, now, l10n)).join('\n\n---\n\n') + trust + `\n\n${l10n.t('Click for actions.')}`;
  if (folders.length === 1) {
    const l = oneLine(folders[0], now, l10n);
    return { visible: true, text: l.text, tooltip, background, ariaLabel: l.aria };
  }
  const count = (p: FolderPhase): number => folders.filter((f) => f.phase === p).length;
  const parts: string[] = [];
  const push = (n: number, s: string): void => {
    if (n > 0) {
      parts.push(s);
    }
  };
  const folders_ = (n: number): string => (n === 1 ? l10n.t('1 folder') : l10n.t('{0} folders', n));
  push(count('holder'), l10n.t('{0} here', folders_(count('holder'))));
  push(count('follower'), l10n.t('{0} elsewhere', folders_(count('follower'))));
  push(count('free'), l10n.t('{0} free', folders_(count('free'))));
  push(count('stale'), l10n.t('{0} stale', folders_(count('stale'))));
  push(count('error'), l10n.t('{0} unusable', folders_(count('error'))));
  const icon = background === 'error' ? '$(error)' : background === 'warning' ? '$(warning)' : count('holder') > 0 ? '$(lock)' : '$(eye)';
  const summary = parts.join(' · ');
  return { visible: true, text: `${icon} ${summary}`, tooltip, background, ariaLabel: l10n.t('Task Lock: {0}', summary) };
}
