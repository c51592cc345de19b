// The engine's news in words: who holds a lock, why it is stale or cannot be used, why Take Over or a reclaim
// did not work. Built from the data the engine gives (codes, causes, facts), never from its English sentences,
// which stay the CLI's and the log's. Pure: the editor passes vscode.l10n, tests `plain` or a pseudo-locale.
// The import of 'vscode' is for its types only; it is also what makes @vscode/l10n-dev read this file's
// `l10n.t(...)` calls (it extracts messages only from files that import 'vscode').
import type * as vscode from 'vscode';
import type { StaleCause } from '../lock';
import type { ErrorView, FolderStatus, HolderSummary } from '../model/status';
import type { GateLine, ReclaimOutcome, TakeOverFailure } from '../tasks/events';

/** What the words need of vscode.l10n: its `t`. Call it as `l10n.t('a literal {0}', arg)`, so that l10n-dev finds the message. */
export type L10n = Pick<typeof vscode.l10n, 't'>;

type Args = Array<string | number | boolean> | Record<string, unknown>;

/**
 * An L10n that looks a message up with `lookup` (a locale's bundle) and fills in its `{0}` or `{name}`
 * arguments as vscode.l10n.t does, in its three forms: t(message, ...args), t(message, record), t({ message, args }).
 */
export function l10nFrom(lookup: (message: string) => string): L10n {
  const fill = (message: string, args: Args | undefined): string =>
    lookup(message).replace(/\{([^{}]+)\}/g, (m, k: string) => {
      const v = args === undefined ? undefined : Array.isArray(args) ? args[Number(k)] : args[k];
      return v === undefined ? m : String(v);
    });
  const record = (rest: unknown[]): rest is [Record<string, unknown>] => rest.length === 1 && typeof rest[0] === 'object' && rest[0] !== null;
  const t = (first: string | { message: string; args?: Args }, ...rest: unknown[]): string =>
    typeof first !== 'string' ? fill(first.message, first.args) : fill(first, record(rest) ? rest[0] : (rest as Array<string | number | boolean>));
  return { t };
}

/** English, as written in the sources: the default where no editor is (unit tests). */
export const plain: L10n = l10nFrom((m) => m);

/** Local time of day for an ISO time ("10:42"), with the date when it is not the day of `now` (the caller's clock). */
export function clockTime(iso: string, now: Date): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    return iso;
  }
  const two = (n: number): string => String(n).padStart(2, '0');
  const time = `${two(d.getHours())}:${two(d.getMinutes())}`;
  return d.toDateString() === now.toDateString() ? time : `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${time}`;
}

/** A time for people: local time of day and how long ago ("10:42 (12 min ago)"). Not for text that stays up. */
export function sinceWords(iso: string, now: Date, l10n: L10n = plain): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    return iso;
  }
  const min = Math.floor((now.getTime() - d.getTime()) / 60_000);
  const ago =
    min < 1
      ? l10n.t('just now')
      : min < 60
        ? l10n.t('{0} min ago', min)
        : min < 48 * 60
          ? l10n.t('{0} h ago', Math.floor(min / 60))
          : l10n.t('{0} days ago', Math.floor(min / (24 * 60)));
  return l10n.t('{0} ({1})', clockTime(iso, now), ago);
}

/** Tasks with their processes: "watch (pid 42), serve (pid 43)". */
export function taskPids(tasks: ReadonlyArray<{ name: string; pid: number }>, l10n: L10n = plain): string {
  return tasks.map((x) => l10n.t('{0} (pid {1})', x.name, x.pid)).join(', ');
}

/** A holder in a few words: its window's name, "task-lock run “npm run watch”", or "an unknown holder (…)". */
export function holderName(h: HolderSummary | undefined, l10n: L10n = plain): string {
  if (!h) {
    return l10n.t('an unknown holder');
  }
  switch (h.kind) {
    case 'cli':
      return l10n.t('task-lock run “{0}”', h.label);
    case 'vscode':
      return h.label;
    default:
      switch (h.unknown) {
        case 'no-record':
          return l10n.t('an unknown holder (no holder record yet)');
        case 'earlier-lock':
          return l10n.t('an unknown holder (its record belongs to an earlier lock)');
        case 'corrupt':
          return l10n.t('an unknown holder (its record cannot be used: {0})', h.unknownDetail ?? '?');
        default:
          return l10n.t('an unknown holder');
      }
  }
}

/** The holder's name and, when known, its pid: "code window 10:42:07 (ws) (pid 4242)". */
export function holderRef(h: HolderSummary | undefined, l10n: L10n = plain): string {
  return h?.pid !== undefined && h.kind !== 'unknown' ? l10n.t('{0} (pid {1})', holderName(h, l10n), h.pid) : holderName(h, l10n);
}

/** A holder for people: who, since when, what runs, and whether its window is gone; pids as details. */
export function holderWords(h: HolderSummary | undefined, now: Date, l10n: L10n = plain): string {
  if (!h || h.kind === 'unknown') {
    return holderName(h, l10n);
  }
  const who = h.kind === 'cli' ? l10n.t('a terminal command, {0}', holderName(h, l10n)) : l10n.t('the VS Code window {0}', h.label);
  const parts = [h.pid === undefined ? who : h.hostname ? l10n.t('{0} (pid {1} on {2})', who, h.pid, h.hostname) : l10n.t('{0} (pid {1})', who, h.pid)];
  if (h.since !== undefined) {
    parts.push(l10n.t('since {0}', sinceWords(h.since, now, l10n)));
  }
  if (h.tasks.length > 0) {
    parts.push(l10n.t('running {0}', taskPids(h.tasks, l10n)));
  }
  if (h.orphanedSince !== undefined) {
    const since = sinceWords(h.orphanedSince, now, l10n);
    parts.push(h.kind === 'cli' ? l10n.t('its command line is gone since {0}', since) : l10n.t('its window is gone since {0}', since));
  }
  return parts.join(', ');
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

/** Why a lock is stale: "holder pid 4242 has exited". */
export function staleText(cause: StaleCause, l10n: L10n = plain): string {
  switch (cause.kind) {
    case 'holder-exited':
      return cause.tasks === 0
        ? l10n.t('holder pid {0} has exited', cause.pid)
        : cause.tasks === 1
          ? l10n.t('holder pid {0} and its task have exited', cause.pid)
          : l10n.t('holder pid {0} and its tasks have exited', cause.pid);
    case 'no-heartbeat':
      return cause.otherPidNamespace
        ? l10n.t('no heartbeat from {0} in another pid namespace for {1} s (by this host\'s clock)', cause.host, seconds(cause.stillMs))
        : l10n.t('no heartbeat from {0} for {1} s (by this host\'s clock)', cause.host, seconds(cause.stillMs));
    case 'unknown-holder': {
      const who = holderName({ kind: 'unknown', label: '', tasks: [], description: '', unknown: cause.unknown }, l10n);
      return l10n.t('the lock has {0} and no heartbeat for {1} s', who, seconds(cause.quietMs));
    }
  }
}

/** What went wrong with the lock, in one or two sentences, from the engine's code and facts. */
export function lockErrorText(e: ErrorView, l10n: L10n = plain, holder?: HolderSummary): string {
  const path = e.path ?? '?';
  const detail = e.detail ?? '?';
  const who = holder ? holderRef(holder, l10n) : l10n.t('the holder');
  switch (e.code) {
    case 'folder-missing':
      return l10n.t('The folder {0} does not exist.', path);
    case 'folder-not-directory':
      return l10n.t('{0} is not a folder.', path);
    case 'io':
      switch (e.problem) {
        case 'folder-unreadable':
          return l10n.t('The folder {0} cannot be read ({1}).', path, detail);
        case 'cannot-read':
          return l10n.t('The lock in {0} cannot be read ({1}).', path, detail);
        case 'cannot-take':
          return l10n.t('The lock in {0} cannot be taken ({1}).', path, detail);
        case 'cannot-record':
          return l10n.t('The lock in {0} was taken, but its holder could not be recorded ({1}).', path, detail);
        case 'cannot-check':
          return l10n.t('The lock in {0} cannot be checked ({1}).', path, detail);
        case 'already-held':
          return l10n.t('This window already holds the lock.');
      }
      break;
    case 'home-unusable':
      if (e.problem === 'in-the-way') {
        return l10n.t('{0} is in the way: a file stands where Task Lock needs a folder. Move or remove it.', path);
      }
      if (e.problem === 'not-writable') {
        return e.owner !== undefined
          ? l10n.t('{0} belongs to {1} and cannot be written by you ({2}). Ask them to let you write there, or set taskLock.lockDirectory to another folder.', path, e.owner, detail)
          : l10n.t('{0} cannot be written ({1}): Task Lock keeps your locks there. Make it writable, or set taskLock.lockDirectory to a folder every window uses.', path, detail);
      }
      return e.path !== undefined
        ? l10n.t('{0} cannot be used ({1}): Task Lock keeps your locks there. Fix it, or set taskLock.lockDirectory to a folder every window uses.', path, detail)
        : l10n.t('Task Lock has no folder of its own to work in ({0}).', detail);
    case 'home-unsafe':
      return e.problem === 'open-to-others'
        ? l10n.t('{0} can be written by other users (mode {1}): Task Lock will not keep your locks there. Run chmod 700 {0}.', path, detail)
        : l10n.t('{0} belongs to {1}, not to you: Task Lock will not keep your locks there. Remove it, or set taskLock.lockDirectory.', path, e.owner ?? '?');
    case 'reclaim-failed':
      return e.problem === 'foreign-files'
        ? l10n.t('The lock {0} cannot be removed: it holds files that Task Lock did not put there. Look at them, then remove the folder by hand.', path)
        : l10n.t('The lock {0} cannot be removed ({1}).', path, detail);
    case 'held':
      return l10n.t('The lock is being handed over to someone else right now; try again in a few seconds.');
    case 'timeout':
      return e.problem === 'still-held'
        ? l10n.t('The lock is still held by {0}.', who)
        : e.problem === 'still-reserved'
          ? l10n.t('The lock is still reserved for a handoff.')
          : e.problem === 'still-reclaimed'
            ? l10n.t('The lock is stale and still being reclaimed.')
            : l10n.t('Gave up waiting for the lock.');
    case 'handoff-no-answer':
      return e.problem === 'no-answer' ? l10n.t('{0} did not answer within {1} s.', who, detail) : l10n.t('{0} closed its channel without handing over.', who);
    case 'handoff-refused':
      // The holder's own words (another process's, which may be a CLI: English).
      return l10n.t('{0} refused: {1}', who, detail);
    case 'not-same-host':
      return l10n.t('{0} cannot be asked from here: it is not on this host or has no channel.', who);
    case undefined:
      break;
  }
  // No facts to word it by: the engine's message, as a technical detail.
  return e.message ? l10n.t('The lock cannot be used: {0}', e.message) : l10n.t('The lock cannot be used.');
}

/** Why a folder's lock is stale or unusable, for the tooltip and Show Lock Holder; undefined when it is neither. */
export function statusNote(f: FolderStatus, l10n: L10n = plain): string | undefined {
  if (f.phase === 'stale' && f.stale) {
    return staleText(f.stale, l10n);
  }
  if (f.phase === 'error') {
    return lockErrorText(f.error ?? { code: undefined, message: f.message ?? '' }, l10n);
  }
  return undefined;
}

/** The notification when Take Over did not move the tasks here. */
export function takeOverFailureText(f: TakeOverFailure, l10n: L10n = plain): string {
  const who = f.holder ? holderRef(f.holder, l10n) : l10n.t('the holder');
  if (f.orphan) {
    return f.holder?.kind === 'cli'
      ? l10n.t('Task Lock: Take Over did not stop the command of {0}, whose task-lock run has ended; the log says why.', who)
      : l10n.t('Task Lock: Take Over did not stop the tasks of {0}, whose window is gone; the log says why.', who);
  }
  const why = lockErrorText(f.error, l10n, f.holder);
  if (f.holderDead) {
    return l10n.t('Task Lock: {0} is gone and did not hand over. {1} Reclaim and Take Over removes its lock and runs the tasks here.', who, why);
  }
  if (f.error.code === 'handoff-no-answer') {
    return l10n.t('Task Lock: the holder did not answer. {0}', why);
  }
  return l10n.t('Task Lock: Take Over did not move the tasks here. {0}', why);
}

/** What Reclaim Stale Lock did. */
export function reclaimText(r: ReclaimOutcome, now: Date, l10n: L10n = plain): string {
  switch (r.result) {
    case 'reclaimed':
      return l10n.t('Task Lock: removed the stale lock.');
    case 'nothing':
      return l10n.t('Task Lock: there was no stale lock.');
    case 'alive':
      return l10n.t('Task Lock: the holder is alive: {0}.', holderWords(r.holder, now, l10n));
    case 'error':
      return l10n.t('Task Lock: the stale lock was not removed. {0}', lockErrorText(r.error, l10n));
  }
}

/** The line a `taskLock` task's terminal shows when its process does not run. */
export function gateLineText(task: string, line: GateLine, now: Date, l10n: L10n = plain): string {
  switch (line.kind) {
    case 'refused':
      return l10n.t('Task Lock: “{0}” is already running in {1}. Not started here.', task, holderWords(line.holder, now, l10n));
    case 'stands-in':
      return l10n.t('Task Lock: “{0}” runs in {1}, which holds the lock. Not started here: this task ends at once, successfully, so that the tasks that depend on it run here, served by that one.', task, holderWords(line.holder, now, l10n));
    case 'not-recorded':
      return l10n.t('Task Lock: “{0}” was not started: its process could not be recorded in the lock ({1}).', task, line.detail);
    case 'spawn-failed':
      return l10n.t('Task Lock: “{0}” could not start: {1}', task, line.detail);
  }
}
