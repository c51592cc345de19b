// The status bar's words, computed from the plain status objects of src/model. No vscode import, so unit
// tests render it; the editor passes vscode.l10n.t as `t`.
import type { FolderPhase, FolderStatus, HolderSummary } from '../model/status';

export interface StatusView {
  visible: boolean;
  text: string;
  tooltip: string;
  background: 'warning' | 'error' | undefined;
  ariaLabel: string;
}

/** l10n hook: vscode.l10n.t in the editor, a plain `{0}` formatter in tests. */
export type Translate = (message: string, ...args: Array<string | number>) => string;

export const plain: Translate = (message, ...args) => message.replace(/\{(\d+)\}/g, (m, i: string) => (args[Number(i)] === undefined ? m : String(args[Number(i)])));

export function holderName(h: HolderSummary | undefined, t: Translate = plain): string {
  if (!h) {
    return t('an unknown holder');
  }
  return h.kind === 'cli' ? t('task-lock run “{0}”', h.label) : h.label;
}

/** Local time of day for an ISO time ("10:42"), with the date when it is not today. */
export function clockTime(iso: string, now = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    return iso;
  }
  const two = (n: number): string => String(n).padStart(2, '0');
  const time = `${two(d.getHours())}:${two(d.getMinutes())}`;
  return d.toDateString() === now.toDateString() ? time : `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${time}`;
}

/** A time for people: local time of day and how long ago ("10:42 (12 min ago)"). Not for text that stays up. */
export function sinceWords(iso: string, now = new Date(), t: Translate = plain): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    return iso;
  }
  const min = Math.floor((now.getTime() - d.getTime()) / 60_000);
  const ago = min < 1 ? t('just now') : min < 60 ? t('{0} min ago', min) : min < 48 * 60 ? t('{0} h ago', Math.floor(min / 60)) : t('{0} days ago', Math.floor(min / (24 * 60)));
  return `${clockTime(iso, now)} (${ago})`;
}

function taskList(tasks: readonly string[]): string {
  return tasks.join(', ');
}

function oneLine(f: FolderStatus, t: Translate): { text: string; aria: string } {
  switch (f.phase) {
    case 'holder': {
      const tasks = f.running.length > 0 ? f.running : f.tasks;
      return { text: `$(lock) ${t('this window runs {0}', taskList(tasks))}`, aria: t('Task Lock: this window runs {0}', taskList(tasks)) };
    }
    case 'follower': {
      // What the holder really runs (its record lists it), not what this window guards: a task the holder's
      // user stopped runs nowhere. A holder that runs nothing recorded (yet) still holds the folder.
      const running = [...new Set((f.holder?.tasks ?? []).map((x) => x.name))];
      if (running.length === 0 && f.holder?.kind === 'vscode') {
        return { text: `$(eye) ${t('{0} holds the lock', holderName(f.holder, t))}`, aria: t('Task Lock: {0} holds the lock, running no guarded task', holderName(f.holder, t)) };
      }
      const tasks = running.length > 0 ? running : f.tasks;
      const orphaned = f.holder?.orphanedSince;
      if (orphaned !== undefined) {
        const since = clockTime(orphaned);
        return f.holder?.kind === 'cli'
          ? { text: `$(debug-disconnect) ${t('{0} runs without its task-lock run since {1}', taskList(tasks), since)}`, aria: t('Task Lock: {0} runs on since {1}, its task-lock run was ended', taskList(tasks), since) }
          : { text: `$(debug-disconnect) ${t('{0} runs without a window since {1}', taskList(tasks), since)}`, aria: t('Task Lock: {0} runs on since {1}, the window that ran it is gone', taskList(tasks), since) };
      }
      return { text: `$(eye) ${t('{0} runs in {1}', taskList(tasks), holderName(f.holder, t))}`, aria: t('Task Lock: {0} runs in {1}', taskList(tasks), holderName(f.holder, t)) };
    }
    // No "Task Lock:" prefix in any state: the icon and the guarded labels say whose item it is, as in the others.
    case 'free':
      return { text: `$(unlock) ${t('{0}: lock free', taskList(f.tasks))}`, aria: t('Task Lock: the lock is free') };
    case 'stale':
      return { text: `$(warning) ${t('{0}: stale lock', taskList(f.tasks))}`, aria: t('Task Lock: the lock is stale') };
    case 'error':
      return { text: `$(error) ${t('{0}: lock unusable', taskList(f.tasks))}`, aria: t('Task Lock: the lock cannot be used') };
  }
}

/** Markdown special characters in labels and paths must show as text. */
export function escapeMarkdown(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!<>|~]/g, (c) => `\\${c}`);
}

function describeFolder(f: FolderStatus, t: Translate): string {
  const lines: string[] = [];
  const phase: Record<FolderPhase, string> = {
    holder: t('this window holds the lock'),
    follower: t('another holder runs the tasks'),
    free: t('the lock is free'),
    stale: t('the lock is stale'),
    error: t('the lock cannot be used'),
  };
  lines.push(`**${escapeMarkdown(f.name)}**: ${phase[f.phase]}`);
  lines.push('');
  lines.push(`- ${t('Guarded tasks: {0}', escapeMarkdown(taskList(f.tasks)))}`);
  for (const [label, deps] of Object.entries(f.dependsOn ?? {})) {
    lines.push(`- ${t('{0} depends on {1}: guarded with it', escapeMarkdown(label), escapeMarkdown(taskList(deps)))}`);
  }
  const h = f.holder;
  if (h && f.phase !== 'free') {
    const who = h.kind === 'cli' ? t('task-lock run (CLI)') : h.kind === 'vscode' ? t('editor window') : t('unknown');
    lines.push(`- ${t('Holder: {0}, {1}', who, escapeMarkdown(h.label))}`);
    if (h.pid !== undefined) {
      lines.push(`- ${t('Process: pid {0} on {1}', h.pid, escapeMarkdown(h.hostname ?? '?'))}`);
    }
    if (h.since !== undefined) {
      lines.push(`- ${t('Since: {0}', escapeMarkdown(clockTime(h.since)))}`);
    }
    if (h.tasks.length > 0) {
      lines.push(`- ${t('Running: {0}', escapeMarkdown(h.tasks.map((x) => `${x.name} (pid ${x.pid})`).join(', ')))}`);
    }
    if (h.orphanedSince !== undefined) {
      const since = escapeMarkdown(clockTime(h.orphanedSince));
      lines.push(
        `- ${
          h.kind === 'cli'
            ? t('Its task-lock run was ended at {0}; its command runs on. Take Over stops it (after asking) and runs the tasks here.', since)
            : t('Its window is gone since {0}; its tasks run on. After taskLock.orphanGraceSeconds a waiting window stops them and runs them; Take Over does it now.', since)
        }`,
      );
    }
  }
  if (f.message) {
    lines.push(`- ${escapeMarkdown(f.message)}`);
  }
  if (f.window !== undefined) {
    lines.push(`- ${t('This window: {0}', escapeMarkdown(f.window))}`);
  }
  return lines.join('\n');
}

/**
 * Multi-root: one item sums every guarded folder up; the tooltip lists each. `restricted`: the workspace is not
 * trusted (Restricted Mode), where this window shows the locks but starts no task: the tooltip says so.
 */
export function renderStatus(folders: readonly FolderStatus[], t: Translate = plain, restricted = false): StatusView {
  if (folders.length === 0) {
    return { visible: false, text: '', tooltip: '', background: undefined, ariaLabel: '' };
  }
  const background = folders.some((f) => f.phase === 'error') ? 'error' : folders.some((f) => f.phase === 'stale') ? 'warning' : undefined;
  const trust = restricted ? `\n\n${t('Restricted Mode: this window starts no guarded task until you trust the workspace.')}` : '';
  const tooltip = folders.map((f) => describeFolder(f, t)).join('\n\n---\n\n') + trust + `\n\n${t('Click for actions.')}`;
  if (folders.length === 1) {
    const l = oneLine(folders[0], t);
    return { visible: true, text: l.text, tooltip, background, ariaLabel: l.aria };
  }
  const count = (p: FolderPhase): number => folders.filter((f) => f.phase === p).length;
  const parts: string[] = [];
  const push = (n: number, s: string): void => {
    if (n > 0) {
      parts.push(s);
    }
  };
  const folders_ = (n: number): string => (n === 1 ? t('1 folder') : t('{0} folders', n));
  push(count('holder'), t('{0} here', folders_(count('holder'))));
  push(count('follower'), t('{0} elsewhere', folders_(count('follower'))));
  push(count('free'), t('{0} free', folders_(count('free'))));
  push(count('stale'), t('{0} stale', folders_(count('stale'))));
  push(count('error'), t('{0} unusable', folders_(count('error'))));
  const icon = background === 'error' ? '$(error)' : background === 'warning' ? '$(warning)' : count('holder') > 0 ? '$(lock)' : '$(eye)';
  const summary = parts.join(' · ');
  return { visible: true, text: `${icon} ${summary}`, tooltip, background, ariaLabel: t('Task Lock: {0}', summary) };
}
