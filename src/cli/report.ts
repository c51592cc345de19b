// What the CLI prints about a lock: one line of text, or JSON from the engine's one holder projection.
import { LockState, ReservationView, WorkspaceLock, describeHolder, holderFields, isAlive, orphanOf, proven } from '../lock';
import { STATUS_JSON_VERSION } from './codes';

/**
 * Control characters as `\uXXXX`: a label or a path is someone else's text, and a terminal would obey the
 * escape sequences in it. JSON stays exact (an escaped character in a JSON string is the same character).
 */
export function printable(s: string, keepNewlines = false): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return s.replace(keepNewlines ? /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g : /[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function err(line: string): void {
  process.stderr.write(`task-lock: ${printable(line, true)}\n`);
}

export function out(line: string): void {
  process.stdout.write(`${printable(line, true)}\n`);
}

/** The holder of a held or stale lock, else the state's name: for "locked by …" sentences. */
export function holderLine(state: LockState): string {
  // A label may hold a newline: here it must not break the one line.
  return state.state === 'held' || state.state === 'mine' || state.state === 'stale' ? printable(describeHolder(state.holder)) : state.state;
}

/**
 * Notes on recorded tasks whose own process has ended while members of their process group run on (a command's
 * `&` child, a server npm started): they keep the lock, and `status` says why it is held.
 */
export function groupNotes(s: LockState): string[] {
  const rec = s.state === 'held' && s.holder.sameHost ? s.holder.record : undefined;
  return (rec?.tasks ?? [])
    .filter((t) => t.group === true && !isAlive({ pid: t.pid, start: t.start }) && isAlive(t))
    .map((t) => `“${printable(t.name)}” (pid ${t.pid}) has ended, but processes it started still run in its process group (${t.pid}) and keep the lock`);
}

/** A note on the handoff reservation for `status`, when there is one worth a word. */
export function reservationNote(r: ReservationView | undefined): string | undefined {
  if (r?.state === 'active') {
    return `the lock is reserved for a handoff for ${(r.remainingMs / 1000).toFixed(1)} s more`;
  }
  if (r?.state === 'bad') {
    return r.removable ? `${r.reason}; "task-lock reclaim" removes it` : `${r.reason}; remove it by hand`;
  }
  // One that is over is a leftover the next taker removes: not worth a line.
  return undefined;
}

/** `status --json`: README's "status --json" describes every field; STATUS_JSON_VERSION says which format. */
export function stateJson(lock: WorkspaceLock, s: LockState): Record<string, unknown> {
  const base: Record<string, unknown> = { folder: lock.location.folder, lockHome: lock.location.home, reservation: lock.reservation() ?? null };
  if (lock.location.fallbackReason) {
    base.fallback = lock.location.fallbackReason;
  }
  if (s.state === 'free') {
    return { version: STATUS_JSON_VERSION, state: 'free', ...base };
  }
  if (s.state === 'error') {
    return { version: STATUS_JSON_VERSION, state: 'error', message: s.message, ...base };
  }
  const holder = holderFields(s.holder) ?? null;
  return {
    version: STATUS_JSON_VERSION,
    state: s.state === 'stale' ? 'stale' : 'held',
    holder,
    ...(holder ? {} : { unknownHolder: s.holder.unknownReason }),
    ...(s.state === 'stale' ? { reason: s.reason } : {}),
    ...base,
  };
}

/**
 * Why nobody can answer a request to hand over or stop, when that is so: the holder's process has exited while
 * its recorded tasks run on and keep the lock (a `run` killed with SIGKILL, its CMD still running). Said as it
 * is, rather than as a holder that "closed its channel": with the command that ends them where they prove to be
 * the record's tasks (a process group by its id), else with the pids to look at first (the record is anyone's words).
 */
export function nobodyToAsk(s: LockState): string | undefined {
  const rec = orphanOf(s);
  const tasks = (rec?.tasks ?? []).filter((t) => isAlive(t));
  if (tasks.length === 0) {
    return undefined;
  }
  const pids = tasks.map((t) => t.pid).join(', ');
  const which = tasks.length === 1 ? `its task (pid ${pids}) still runs` : `its tasks (pid ${pids}) still run`;
  const head = `its process has exited, but ${which} and keeps the lock, with nobody left to ask.`;
  if (!tasks.every(proven)) {
    return `${head} Task Lock cannot prove that ${tasks.length === 1 ? 'this process is' : 'these processes are'} what the record says: look (ps -o pid,user,args -p ${tasks.map((t) => t.pid).join(',')}), and end ${tasks.length === 1 ? 'it' : 'them'} yourself if so.`;
  }
  const targets = tasks.map((t) => (t.group === true ? `-${t.pid}` : String(t.pid))).join(' ');
  return `${head} End ${tasks.length === 1 ? 'it' : 'them'} yourself (kill -- ${targets}), or take the lock away with task-lock reclaim --force.`;
}
