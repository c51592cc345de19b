import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { readSmallFile, writeFileAtomic } from './files';
import { currentUid, ownerName } from './location';
import type { ProcessRef } from './process-identity';

export type HolderKind = 'vscode' | 'cli';

export interface TaskRef extends ProcessRef {
  name: string;
  /** The value of TASK_LOCK_MARK in the task's environment (process-identity.ts): without it, no signal reaches the task. */
  mark?: string;
}

/** Who holds the lock. Written beside proper-lockfile's lock directory, never inside it. */
export interface HolderRecord {
  version: 1;
  token: string;
  kind: HolderKind;
  label: string;
  pid: number;
  start: string | null;
  hostname: string;
  /**
   * The holder's pid namespace (see pidNamespace), which its pid and its tasks' pids belong to. Absent in
   * records written before it existed, null where the platform has none: both read as this reader's own.
   */
  pidNamespace?: string | null;
  /** ISO time the lock was taken. */
  since: string;
  /** The holder's Unix socket (named pipe on Windows), for followers on the same host. */
  socket: string | null;
  /** Identity of the lock directory this record belongs to: a record left by an earlier lock never counts. */
  lockId: string;
  tasks: TaskRef[];
}

export type RecordRead =
  | { kind: 'none' }
  | { kind: 'ok'; record: HolderRecord }
  | { kind: 'corrupt'; reason: string };

/** A record is read as untrusted input: anything could have written that file. */
export const MAX_RECORD_BYTES = 64 * 1024;
const MAX_TASKS = 64;
/** The longest label or task name a reader accepts; writers shorten theirs to it (clipName). */
export const MAX_NAME_CHARS = 1024;

/** A label or task name as a record may hold it: a longer one would make the holder's own record invalid. */
export function clipName(s: string): string {
  return s.length <= MAX_NAME_CHARS ? s : `${s.slice(0, MAX_NAME_CHARS - 1)}…`;
}

export function newToken(): string {
  return randomBytes(16).toString('hex');
}

/**
 * The record at `path`. One that another user owns (a shared lock folder) is reported, never obeyed: its pids, its
 * tasks and its channel are that user's word, so it counts as a holder without a usable record, judged by the
 * lock folder's heartbeat alone, as a holder on another host is.
 */
export function readRecord(path: string): RecordRead {
  return readRecordFile(path).read;
}

function readRecordFile(path: string): { read: RecordRead; foreign: boolean } {
  const f = readSmallFile(path, MAX_RECORD_BYTES);
  if (f.kind !== 'text') {
    return { read: f.kind === 'none' ? f : { kind: 'corrupt', reason: f.reason }, foreign: false };
  }
  const uid = currentUid();
  if (uid !== undefined && f.uid !== uid) {
    return { read: { kind: 'corrupt', reason: `the holder record belongs to ${ownerName(f.uid)}, not to you` }, foreign: true };
  }
  return { read: parseRecord(f.text), foreign: false };
}

export function parseRecord(text: string): RecordRead {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { kind: 'corrupt', reason: 'the holder record is not valid JSON' };
  }
  const problem = validate(data);
  return problem === undefined ? { kind: 'ok', record: data as HolderRecord } : { kind: 'corrupt', reason: `the holder record ${problem}` };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isPid = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) > 0;
const isShortString = (v: unknown, max = 1024): boolean => typeof v === 'string' && v.length <= max;
const isStart = (v: unknown): boolean => v === null || isShortString(v, 256);

/**
 * Followers connect to the path a record names: only a path shaped like a holder's channel is accepted,
 * so a forged record cannot point them at some other socket on the machine.
 */
function isChannelPath(p: string): boolean {
  if (/^\\\\\.\\pipe\\task-lock-[0-9a-f]{16}$/.test(p)) {
    return true;
  }
  const parts = p.split('/');
  return p.startsWith('/') && /^[0-9a-f]{16}\.sock$/.test(parts[parts.length - 1]) && (parts[parts.length - 2] ?? '').startsWith('task-lock');
}

function validate(d: unknown): string | undefined {
  if (!isObject(d)) {
    return 'is not an object';
  }
  if (d.version !== 1) {
    return `has unknown version ${JSON.stringify(d.version)}`;
  }
  const checks: Array<[boolean, string]> = [
    [isShortString(d.token, 128) && (d.token as string).length > 0, 'token'],
    [d.kind === 'vscode' || d.kind === 'cli', 'kind'],
    [isShortString(d.label, MAX_NAME_CHARS), 'label'],
    [isPid(d.pid), 'pid'],
    [isStart(d.start), 'start'],
    [isShortString(d.hostname, 255), 'hostname'],
    [d.pidNamespace === undefined || d.pidNamespace === null || (isShortString(d.pidNamespace, 64) && /^\d+$/.test(d.pidNamespace as string)), 'pidNamespace'],
    [isShortString(d.since, 64) && !Number.isNaN(Date.parse(d.since as string)), 'since'],
    [d.socket === null || (isShortString(d.socket, 4096) && isChannelPath(d.socket as string)), 'socket'],
    [isShortString(d.lockId, 256), 'lockId'],
    [Array.isArray(d.tasks) && d.tasks.length <= MAX_TASKS, 'tasks'],
  ];
  for (const [ok, field] of checks) {
    if (!ok) {
      return `has an invalid "${field}"`;
    }
  }
  for (const t of d.tasks as unknown[]) {
    const optional = (v: unknown, ok: (v: unknown) => boolean): boolean => v === undefined || ok(v);
    const mark = (v: unknown): boolean => isShortString(v, 128) && /^[0-9a-f]+$/.test(v as string);
    if (!isObject(t) || !isPid(t.pid) || !isStart(t.start) || !isShortString(t.name, MAX_NAME_CHARS) || !optional(t.group, (v) => typeof v === 'boolean') || !optional(t.mark, mark)) {
      return 'has an invalid task entry';
    }
  }
  return undefined;
}

/** Atomically, through a random exclusive temporary file (see writeFileAtomic). */
export function writeRecord(path: string, record: HolderRecord): void {
  writeFileAtomic(path, JSON.stringify(record, null, 2) + '\n', 0o644);
}

/** Removes the record only while it is still ours: a new holder's record must survive an old holder's exit. */
export function removeRecordIfOwned(path: string, token: string): void {
  const { read, foreign } = readRecordFile(path);
  // Another user's is the next holder's, in a shared lock folder: never ours to remove.
  if (read.kind === 'none' || foreign || (read.kind === 'ok' && read.record.token !== token)) {
    return;
  }
  try {
    fs.unlinkSync(path);
  } catch {
    // Already gone.
  }
}
