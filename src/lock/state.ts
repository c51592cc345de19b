import type { Stats } from 'node:fs';
import type { HolderRecord, RecordRead } from './record';
import type { ProcessRef } from './process-identity';

/** What a holder looks like to everyone else. `record` is absent when it is missing, foreign or corrupt. */
export interface HolderView {
  record?: HolderRecord;
  /** Why the holder is unknown: "no holder record yet", "the holder record is not valid JSON", … */
  unknownReason?: string;
  sameHost: boolean;
  /** Milliseconds since proper-lockfile's last heartbeat on the lock directory. */
  heartbeatAgeMs: number;
}

export type LockState =
  | { state: 'free' }
  | { state: 'mine'; holder: HolderView }
  | { state: 'held'; holder: HolderView }
  | { state: 'stale'; holder: HolderView; reason: string }
  | { state: 'error'; message: string };

export interface JudgeInput {
  lockDir: Pick<Stats, 'mtimeMs' | 'dev' | 'ino' | 'birthtimeMs'> | null;
  record: RecordRead;
  nowMs: number;
  staleMs: number;
  hostname: string;
  myToken?: string;
  isAlive(ref: ProcessRef): boolean;
}

/**
 * How long a lock folder may stand without its record because its taker is between mkdir and record write (a few
 * milliseconds, longer on a loaded machine). Removed meanwhile (a forced reclaim), its taker and the next one both
 * took the next folder for their own: the taker learns its folder's identity by a stat after the mkdir.
 */
export const TAKING_MS = 2_000;

/** Whether a lock folder was born so recently that its taker may still be writing its record (by birth time, which no touch changes). */
export function beingTaken(lockDir: Pick<Stats, 'birthtimeMs'>, nowMs: number): boolean {
  const age = nowMs - lockDir.birthtimeMs;
  // Without birth times (some file systems give 0) nothing is young: the heartbeat decides, as before.
  return lockDir.birthtimeMs > 0 && age >= 0 && age < TAKING_MS;
}

export function lockIdOf(st: Pick<Stats, 'dev' | 'ino' | 'birthtimeMs'>): string {
  return `${st.dev}:${st.ino}:${st.birthtimeMs}`;
}

/**
 * The one place that decides whether a lock is alive. On the holder's host the processes decide (the
 * holder or any recorded task, by pid and start time), so a launcher killed while its task runs keeps the
 * lock, and a dead holder is noticed at once. From another host only proper-lockfile's heartbeat can tell.
 */
export function judge(input: JudgeInput): LockState {
  const { lockDir, record, nowMs, staleMs } = input;
  if (lockDir === null) {
    return { state: 'free' };
  }
  const heartbeatAgeMs = Math.max(0, nowMs - lockDir.mtimeMs);
  const heartbeatFresh = heartbeatAgeMs <= staleMs;
  const bound = record.kind === 'ok' && record.record.lockId === lockIdOf(lockDir);

  if (!bound) {
    const unknownReason =
      record.kind === 'corrupt' ? record.reason : record.kind === 'ok' ? 'the holder record belongs to an earlier lock' : 'no holder record';
    const holder: HolderView = { unknownReason, sameHost: false, heartbeatAgeMs };
    return heartbeatFresh
      ? { state: 'held', holder }
      : { state: 'stale', holder, reason: `the lock has an unknown holder (${unknownReason}) and no heartbeat for ${seconds(heartbeatAgeMs)}` };
  }

  const rec = record.record;
  const sameHost = rec.hostname === input.hostname;
  const holder: HolderView = { record: rec, sameHost, heartbeatAgeMs };
  if (input.myToken !== undefined && rec.token === input.myToken) {
    return { state: 'mine', holder };
  }
  if (sameHost) {
    if (input.isAlive(rec) || rec.tasks.some((t) => input.isAlive(t))) {
      return { state: 'held', holder };
    }
    const what = rec.tasks.length > 0 ? `holder pid ${rec.pid} and its ${rec.tasks.length === 1 ? 'task' : 'tasks'} have exited` : `holder pid ${rec.pid} has exited`;
    return { state: 'stale', holder, reason: what };
  }
  return heartbeatFresh
    ? { state: 'held', holder }
    : { state: 'stale', holder, reason: `no heartbeat from ${rec.hostname} for ${seconds(heartbeatAgeMs)}` };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** One line naming the holder, for messages: "cli “npm run watch” (pid 123 on host, since 10:02:03)". */
export function describeHolder(holder: HolderView): string {
  const r = holder.record;
  if (!r) {
    return `an unknown holder (${holder.unknownReason ?? 'no record'})`;
  }
  // A CLI's task is usually named like the holder itself: repeating the label would only add noise.
  const tasks = r.tasks.length > 0 ? `, ${r.tasks.length === 1 ? 'task' : 'tasks'} ${r.tasks.map((t) => (t.name === r.label ? `pid ${t.pid}` : `${t.name} (pid ${t.pid})`)).join(', ')}` : '';
  return `${r.kind} “${r.label}” (pid ${r.pid} on ${r.hostname}, since ${r.since}${tasks})`;
}

/** A holder's plain fields, as the CLI's JSON and the extension's status carry them. */
export interface HolderFields {
  kind: HolderRecord['kind'];
  label: string;
  pid: number;
  hostname: string;
  since: string;
  tasks: Array<{ name: string; pid: number }>;
  sameHost: boolean;
  heartbeatAgeMs: number;
}

/** The one projection of a holder for output: undefined when the record is missing, foreign or corrupt. */
export function holderFields(holder: HolderView): HolderFields | undefined {
  const r = holder.record;
  if (!r) {
    return undefined;
  }
  return {
    kind: r.kind,
    label: r.label,
    pid: r.pid,
    hostname: r.hostname,
    since: r.since,
    tasks: r.tasks.map((t) => ({ name: t.name, pid: t.pid })),
    sameHost: holder.sameHost,
    heartbeatAgeMs: Math.round(holder.heartbeatAgeMs),
  };
}

/** One line for a whole state, for logs and messages: "free", "held by cli “…” (…)", "stale (…), was …". */
export function describeState(s: LockState): string {
  switch (s.state) {
    case 'free':
      return 'free';
    case 'error':
      return `error: ${s.message}`;
    case 'stale':
      return `stale (${s.reason}), was ${describeHolder(s.holder)}`;
    default:
      return `${s.state} by ${describeHolder(s.holder)}`;
  }
}
