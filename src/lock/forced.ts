// A forced reclaim from a live holder: its lock folder is taken away at once, and the lock stays held while
// the tasks it started still run (found by the soak: a waiter started beside the outgoing command).
import * as fs from 'node:fs';
import { takeClaim } from './claim';
import { LockError, errnoCode, errorMessage } from './errors';
import { type WorkspaceLock, statOrNull } from './lock';
import { proven } from './orphan';
import { hostname, isAlive, pidNamespace, selfRef } from './process-identity';
import { TaskRef, clipName, newToken, readRecord, writeRecord } from './record';
import { LockState, beingTaken, lockIdOf } from './state';

/**
 * A forced reclaim from a live holder on this host. Its lock folder is replaced first, in one rename: from then
 * on the holder can bind nothing more to it (it checks its folder after each record write, and sees it replaced).
 * Then its record tells what it started: while any of those tasks runs, the new folder's record names them as
 * the holder, so the lock stays held until the last has ended (the holder stops them), then is stale and taken
 * as usual. Removing the folder outright let a waiter start its command while the old one was still stopping
 * (found by the soak). Only under the reclaim mutex. Returns the tasks that keep the lock.
 */
export function takeAway(lock: WorkspaceLock): TaskRef[] {
  const fresh = `${lock.location.lockDir}.${newToken().slice(0, 12)}.tmp`;
  fs.mkdirSync(fresh);
  // A rename keeps a folder's identity: this is the lock folder's from now on.
  const ours = lockIdOf(fs.statSync(fresh));
  // A taker whose mkdir this rename replaces would stat this folder as its own: the claim says it is not.
  takeClaim(lock.location, ours);
  try {
    // A rename replaces an empty folder at once: at no moment is there no lock to see.
    fs.renameSync(fresh, lock.location.lockDir);
  } catch (err) {
    fs.rmSync(fresh, { recursive: true, force: true });
    const hint = errnoCode(err) === 'ENOTEMPTY' ? ' It holds files that Task Lock did not put there: look at them, then remove the folder by hand.' : '';
    throw new LockError('reclaim-failed', `Cannot take the lock ${lock.location.lockDir} away: ${errorMessage(err)}.${hint}`, { facts: { ...(hint ? { problem: 'foreign-files' as const } : {}), path: lock.location.lockDir, detail: errorMessage(err) } });
  }
  const read = readRecord(lock.location.recordPath);
  const prev = read.kind === 'ok' ? read.record : undefined;
  // Only tasks that prove to be the record's (orphan.ts) keep the lock: the forced reclaim is the way out of a record
  // naming any live process (pid 1, forged or garbage), which the judge holds for as long as that process lives.
  const running = prev && prev.hostname === hostname() && prev.pidNamespace === pidNamespace() ? prev.tasks.filter((t) => isAlive(t) && proven(t)) : [];
  if (!prev || running.length === 0) {
    lock.removeStale(ours);
    return [];
  }
  if (lock.folderId() !== ours) {
    // Removed already (the outgoing holder's release, a tool): a record here would bind someone else's folder.
    return [];
  }
  // The holder is this process, the writer (never a process the record names): once it has exited, the lock is an
  // orphan's, held while those tasks run, and stopped by a waiting window as any orphan's tasks are.
  const self = selfRef();
  writeRecord(lock.location.recordPath, {
    version: 1,
    token: newToken(),
    kind: prev.kind,
    label: clipName(`${prev.label} (taken away, until its tasks end)`),
    pid: self.pid,
    start: self.start,
    hostname: hostname(),
    pidNamespace: pidNamespace(),
    since: new Date().toISOString(),
    socket: null,
    lockId: ours,
    tasks: running,
  });
  return running;
}

export function unrecordedAndNew(lock: WorkspaceLock, s: LockState): boolean {
  if (s.state !== 'held' || s.holder.record) {
    return false;
  }
  const st = statOrNull(lock.location.lockDir);
  return st !== null && beingTaken(st, Date.now());
}
