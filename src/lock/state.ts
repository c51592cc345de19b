import type { Stats } from 'node:fs';
import { LockError, errorMessage, type LockErrorCode, type LockErrorFacts } from './errors';
import type { HolderRecord, RecordRead } from './record';
import type { ProcessRef } from './process-identity';

/** What a holder looks like to everyone else. `record` is absent when it is missing, foreign or corrupt. */
export interface HolderView {
  record?: HolderRecord;
  /** Why the holder is unknown: "no holder record yet", "the holder record is not valid JSON", … */
  unknownReason?: string;
  /** The same as data: no record, a record of an earlier lock, or one that cannot be used (`unknownReason` says how). */
  unknown?: UnknownHolder;
  /**
   * The holder's processes can be checked from here: same host name *and* same pid namespace. False for
   * another host, and for a holder in another pid namespace on this host (a container), whose pids name
   * other processes here: both are judged by their heartbeat alone.
   */
  sameHost: boolean;
  /** Same host name, but another pid namespace (a container): judged like another host. */
  otherPidNamespace?: boolean;
  /**
   * Milliseconds since proper-lockfile's last heartbeat on the lock directory, by this host's clock: exact on
   * this host, only indicative for a holder elsewhere, whose heartbeat carries its own clock's time.
   */
  heartbeatAgeMs: number;
  /**
   * For a holder judged by its heartbeat (another host or pid namespace): how long this process has seen the
   * heartbeat stand still, by its own clock (see heartbeat.ts). 0 at a first look.
   */
  heartbeatStillMs?: number;
  /**
   * Set for an orphan: a holder on this host whose process has gone while tasks it recorded still run (a closed
   * window's terminals live on). Its last heartbeat, by this host's clock: about when its process ended.
   */
  orphanedSinceMs?: number;
}

export type UnknownHolder = 'no-record' | 'earlier-lock' | 'corrupt';

/** Why a lock is stale, as data: `reason` says the same in English, for the CLI and the log. */
export type StaleCause =
  /** A holder without a usable record whose heartbeat has been quiet for `quietMs`. */
  | { kind: 'unknown-holder'; unknown: UnknownHolder; quietMs: number }
  /** The holder's process (pid) and its `tasks` recorded tasks have all exited, on this host. */
  | { kind: 'holder-exited'; pid: number; tasks: number }
  /** A holder on another host (or pid namespace) whose heartbeat has stood still for `stillMs`. */
  | { kind: 'no-heartbeat'; host: string; otherPidNamespace: boolean; stillMs: number };

export type LockState =
  | { state: 'free' }
  | { state: 'mine'; holder: HolderView }
  | { state: 'held'; holder: HolderView }
  | { state: 'stale'; holder: HolderView; reason: string; cause: StaleCause }
  /** `message` in English; `code` and `facts` (a LockError's) for words in another language. */
  | { state: 'error'; message: string; code?: LockErrorCode; facts?: LockErrorFacts };

/** The state of a lock that could not be used because of `err`. */
export function errorState(err: unknown): LockState {
  return err instanceof LockError ? { state: 'error', message: err.message, code: err.code, facts: err.facts } : { state: 'error', message: errorMessage(err) };
}

export interface JudgeInput {
  lockDir: Pick<Stats, 'mtimeMs' | 'dev' | 'ino' | 'birthtimeMs'> | null;
  record: RecordRead;
  nowMs: number;
  /** How long this process has seen the lock folder's mtime unchanged, by its own clock (heartbeat.ts observe). */
  heartbeatStillMs: number;
  staleMs: number;
  hostname: string;
  /** This process's pid namespace (pidNamespace()); null where the platform has none. */
  pidNamespace: string | null;
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
 * lock, and a dead holder is noticed at once. From another host, or another pid namespace on this one (a
 * container: the same pid is another process there), only proper-lockfile's heartbeat can tell, and only by
 * whether it changes (its mtime is the holder's clock's time, not ours): a heartbeat seen standing still for
 * `stale` by this process's clock means a stopped holder. A holder without a readable record is judged by
 * the heartbeat's age on this host's clock, as it names no host whose clock could differ.
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
    const unknown: UnknownHolder = record.kind === 'corrupt' ? 'corrupt' : record.kind === 'ok' ? 'earlier-lock' : 'no-record';
    const unknownReason =
      record.kind === 'corrupt' ? record.reason : record.kind === 'ok' ? 'the holder record belongs to an earlier lock' : 'no holder record';
    const holder: HolderView = { unknownReason, unknown, sameHost: false, heartbeatAgeMs, heartbeatStillMs: input.heartbeatStillMs };
    // Old by this host's clock, or seen standing still for `stale`: a folder dated ahead (a taker killed
    // before its record, then a touch -d) must not count as alive until that date (found by the soak).
    if (heartbeatFresh && input.heartbeatStillMs <= staleMs) {
      return { state: 'held', holder };
    }
    const quiet = heartbeatFresh ? input.heartbeatStillMs : heartbeatAgeMs;
    return { state: 'stale', holder, reason: `the lock has an unknown holder (${unknownReason}) and no heartbeat for ${seconds(quiet)}`, cause: { kind: 'unknown-holder', unknown, quietMs: quiet } };
  }

  const rec = record.record;
  const sameHostName = rec.hostname === input.hostname;
  const otherPidNamespace = sameHostName && !samePidNamespace(rec.pidNamespace, input.pidNamespace);
  const sameHost = sameHostName && !otherPidNamespace;
  const holder: HolderView = { record: rec, sameHost, heartbeatAgeMs, ...(otherPidNamespace ? { otherPidNamespace } : {}) };
  if (input.myToken !== undefined && rec.token === input.myToken) {
    return { state: 'mine', holder };
  }
  if (sameHost) {
    if (input.isAlive(rec)) {
      return { state: 'held', holder };
    }
    if (rec.tasks.some((t) => input.isAlive(t))) {
      return { state: 'held', holder: { ...holder, orphanedSinceMs: lockDir.mtimeMs } };
    }
    const what = rec.tasks.length > 0 ? `holder pid ${rec.pid} and its ${rec.tasks.length === 1 ? 'task' : 'tasks'} have exited` : `holder pid ${rec.pid} has exited`;
    return { state: 'stale', holder, reason: what, cause: { kind: 'holder-exited', pid: rec.pid, tasks: rec.tasks.length } };
  }
  const still = input.heartbeatStillMs;
  const remote: HolderView = { ...holder, heartbeatStillMs: still };
  return still <= staleMs
    ? { state: 'held', holder: remote }
    : {
        state: 'stale',
        holder: remote,
        reason: `no heartbeat from ${where(holder)} for ${seconds(still)} (by this host's clock)`,
        cause: { kind: 'no-heartbeat', host: rec.hostname, otherPidNamespace, stillMs: still },
      };
}

/**
 * Only the very same namespace lets pids be compared: a record without the field could come from any namespace (a
 * container writing to a shared lock folder), and a reader that cannot read its own cannot tell. Null on both sides
 * is a platform without pid namespaces.
 */
function samePidNamespace(recorded: string | null | undefined, mine: string | null): boolean {
  return recorded !== undefined && recorded === mine && (mine !== null || process.platform !== 'linux');
}

/** "host", or "host (another pid namespace)" for a container on this host. */
function where(holder: HolderView): string {
  const host = holder.record?.hostname ?? '?';
  return holder.otherPidNamespace ? `${host} in another pid namespace` : host;
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
  const gone = holder.orphanedSinceMs === undefined ? '' : `; pid ${r.pid} is gone since ${new Date(holder.orphanedSinceMs).toISOString()}, its tasks run on`;
  return `${r.kind} “${r.label}” (pid ${r.pid} on ${where(holder)}, since ${r.since}${tasks}${gone})`;
}

/** A holder's plain fields, as the CLI's JSON and the extension's status carry them. */
export interface HolderFields {
  kind: HolderRecord['kind'];
  label: string;
  pid: number;
  hostname: string;
  since: string;
  tasks: Array<{ name: string; pid: number }>;
  /** The host name is this host's (true for a container on this host too). */
  sameHost: boolean;
  /** On this host, in another pid namespace (a container): its pids are not this host's. */
  otherPidNamespace: boolean;
  /** What tells whether it lives: its processes (same host and pid namespace) or its heartbeat. */
  judgedBy: 'process' | 'heartbeat';
  heartbeatAgeMs: number;
  /** Judged by heartbeat: how long it was seen standing still by this process's clock (0 at a first look). */
  heartbeatStillMs?: number;
  /** An orphan (see HolderView): since when its tasks run without it (ISO). */
  orphanedSince?: string;
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
    sameHost: holder.sameHost || holder.otherPidNamespace === true,
    otherPidNamespace: holder.otherPidNamespace === true,
    judgedBy: holder.sameHost ? 'process' : 'heartbeat',
    heartbeatAgeMs: Math.round(holder.heartbeatAgeMs),
    ...(holder.heartbeatStillMs === undefined ? {} : { heartbeatStillMs: Math.round(holder.heartbeatStillMs) }),
    ...(holder.orphanedSinceMs === undefined ? {} : { orphanedSince: new Date(holder.orphanedSinceMs).toISOString() }),
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
