// A held lock: the record its owner keeps, the channel it answers on, and what happens to it at exit.
import * as fs from 'node:fs';
import * as lockfile from 'proper-lockfile';
import { ByeReason, HolderChannel, Message } from './channel';
import { dropClaim } from './claim';
import { LockError } from './errors';
import { Emitter } from './events';
import { onExit } from './exit';
import { HandoffRequest, writeReservation } from './handoff';
import { groupLedBy } from './orphan';
import { isAlive, processStart } from './process-identity';
import { HolderKind, HolderRecord, TaskRef, clipName, removeRecordIfOwned, writeRecord } from './record';
import { lockIdOf } from './state';
import type { WorkspaceLock } from './lock';

/** A follower's request that the holder start tasks; `answer` once, with the names that run now. */
export interface StartRequest {
  requester: { kind: string; label: string; pid: number };
  names: string[];
  answer(started: string[], reason?: string): void;
}

export interface HolderInfo {
  kind: HolderKind;
  label: string;
}

/** Every lock this process holds: the exit hook and proper-lockfile's own exit handler consult it. */
const heldHandles = new Set<LockHandle>();

/** The lock folder of a held lock whose recorded tasks still run: an exit must leave it to them. */
function keptForTasks(lockDir: string): boolean {
  for (const h of heldHandles) {
    if (h.lock.location.lockDir === lockDir && h.tasksAlive()) {
      return true;
    }
  }
  return false;
}

/**
 * The identities (lockIdOf) of the lock folders this process created and has not removed yet, each with how many
 * of its takers saw it as their own (two in one process when one lost the folder's claim: see claim.ts).
 */
const createdHere = new Map<string, number>();

/** A taker that won the claim of the folder it stat'ed: that folder is this process's to remove. */
export function ownFolder(id: string): void {
  createdHere.set(id, Math.max(1, createdHere.get(id) ?? 0));
}

/** A taker that lost the claim: the folder it stat'ed is another taker's, never to be removed by this one. */
export function disownFolder(id: string): void {
  const n = (createdHere.get(id) ?? 0) - 1;
  if (n > 0) {
    createdHere.set(id, n);
  } else {
    createdHere.delete(id);
  }
}

function identityOf(p: fs.PathLike): string | undefined {
  try {
    return lockIdOf(fs.statSync(p));
  } catch {
    return undefined;
  }
}

/**
 * Removes a lock folder only while it is the very folder this process created: proper-lockfile's unlock
 * removes whatever folder stands at the path, and after a forced reclaim that is the next holder's lock
 * (#7 item 3). The look and the removal are two back-to-back system calls, with no event-loop turn between.
 * A lock whose recorded tasks still run is spared too (see lockFs).
 */
function removeIfOurs(p: fs.PathLike, sparedForTasks: boolean): void {
  const id = identityOf(p);
  if (id === undefined || !createdHere.has(id) || (sparedForTasks && keptForTasks(String(p)))) {
    return;
  }
  fs.rmdirSync(p);
  createdHere.delete(id);
}

/**
 * The fs proper-lockfile works through:
 * - `mkdir` notes the identity of each lock folder it creates, so that only those are ever removed;
 * - `rmdir` (unlock) and `rmdirSync` (its exit handler, through signal-exit, on SIGINT and SIGTERM too)
 *   remove a folder only while it is ours. The exit handler also spares a lock whose tasks outlive the holder
 *   (a window reloading, a launcher that crashed): the tasks hold it now.
 */
export const lockFs: typeof fs = {
  ...fs,
  mkdir: ((p: fs.PathLike, callback: (err: NodeJS.ErrnoException | null) => void) => {
    fs.mkdir(p, (err) => {
      const id = err ? undefined : identityOf(p);
      if (id !== undefined) {
        createdHere.set(id, (createdHere.get(id) ?? 0) + 1);
      }
      callback(err);
    });
  }) as typeof fs.mkdir,
  rmdir: ((p: fs.PathLike, callback: (err: NodeJS.ErrnoException | null) => void) => {
    try {
      removeIfOurs(p, false);
      callback(null);
    } catch (err) {
      callback(err as NodeJS.ErrnoException);
    }
  }) as typeof fs.rmdir,
  rmdirSync: (p: fs.PathLike) => removeIfOurs(p, true),
};

let exitHookRegistered = false;

/**
 * On exit nothing async can run: release synchronously what is still held, except a lock whose tasks
 * still run, which stays with its record (the followers see a dead holder and live tasks: held).
 */
function registerExitHook(): void {
  if (exitHookRegistered) {
    return;
  }
  exitHookRegistered = true;
  onExit('locks', () => {
    for (const h of heldHandles) {
      if (h.tasksAlive()) {
        h.leaveToTasks();
      } else {
        h.releaseSync();
      }
    }
  });
}

/** A held lock. Its owner records tasks on it, answers handoffs, and learns of a compromise. */
export class LockHandle {
  private readonly compromised = new Emitter<Error>();
  private readonly handoff = new Emitter<HandoffRequest>();
  private channel: HolderChannel | undefined;
  /** Watches the lock home, so that a removed or replaced lock folder is noticed at once, not at the next beat. */
  private folderWatch: fs.FSWatcher | undefined;
  /** This handle's own heartbeat, once proper-lockfile gave the lock up over a foreign mtime (see markCompromised). */
  private beat: NodeJS.Timeout | undefined;
  private released = false;
  private compromiseError: Error | undefined;

  /** Fires when the lock was removed or taken from under this holder; it holds nothing after that. */
  readonly onCompromised = this.compromised.event;
  /** Fires when another process asks for the lock. Without a listener, requests are refused. */
  readonly onHandoffRequest = this.handoff.event;
  private readonly startRequest = new Emitter<StartRequest>();
  /** Fires when a follower asks this holder to start tasks by name. Without a listener, requests are refused. */
  readonly onStartRequest = this.startRequest.event;

  constructor(
    readonly lock: WorkspaceLock,
    private rec: HolderRecord,
    private readonly unlock: () => Promise<void>,
  ) {}

  get record(): HolderRecord {
    return this.rec;
  }

  get isHeld(): boolean {
    return !this.released;
  }

  async open(socketPath: string | null): Promise<void> {
    try {
      if (socketPath === null) {
        throw new Error('no socket folder short enough');
      }
      this.channel = await HolderChannel.listen(socketPath, (m, reply) => this.onMessage(m, reply));
      this.rec = { ...this.rec, socket: this.channel.path };
    } catch {
      // Without a channel followers fall back to the heartbeat; the lock itself is still sound.
      this.rec = { ...this.rec, socket: null };
    }
    // The folder may have gone since it was taken (rm -rf of the lock home): the record there now is the next
    // holder's, never to be written over. The caller sees the loss (holdsFolder) and backs off.
    if (this.stillOurs()) {
      writeRecord(this.lock.location.recordPath, this.rec);
    }
    heldHandles.add(this);
    registerExitHook();
    this.watchFolder();
  }

  /**
   * Whether the folder at the lock's path is still the one this handle took. Asked once the watch is up
   * (open): anything done to the folder before the watch began is seen here, anything after by the watch.
   */
  holdsFolder(): boolean {
    return !this.released && this.stillOurs();
  }

  /** The folder at the lock's path is still the one this handle took (by dev, inode and birth time). */
  private stillOurs(): boolean {
    return identityOf(this.lock.location.lockDir) === this.rec.lockId;
  }

  private watchFolder(): void {
    try {
      this.folderWatch = fs.watch(this.lock.location.home, { persistent: false }, () => {
        // Heartbeats and record writes come here too: one stat tells them from a lost lock.
        if (!this.released && !this.stillOurs()) {
          this.lose('the lock folder was removed or replaced');
        }
      });
      this.folderWatch.on('error', () => this.folderWatch?.close());
    } catch {
      // Without the watch, the heartbeat's own check notices a lost lock, within `update` ms.
    }
  }

  /**
   * proper-lockfile gives a lock up when the folder's mtime is not the one it wrote: a `touch`, a backup or a
   * sync client, a clock jump, a process stopped past `stale`. When the folder is still ours that loses
   * nothing on this host (liveness here is by process, not by mtime), so the lock stays held and this handle
   * keeps the heartbeat that other hosts judge by. A folder removed or replaced is a real loss.
   */
  private beatOurselves(): void {
    if (this.beat) {
      return;
    }
    this.beat = setInterval(() => {
      if (this.released) {
        clearInterval(this.beat);
      } else if (!this.stillOurs()) {
        this.lose('the lock folder was removed or replaced');
      } else {
        try {
          const now = new Date();
          fs.utimesSync(this.lock.location.lockDir, now, now);
        } catch {
          // The next beat looks again.
        }
      }
    }, this.lock.updateMs);
    this.beat.unref();
  }

  /** Stops what this handle runs on its own, and removes the lock folder if it is still ours. */
  private letGoOfFolder(): void {
    this.folderWatch?.close();
    clearInterval(this.beat);
    // proper-lockfile no longer tracks a lock it gave up (see beatOurselves): its unlock removes nothing then.
    try {
      removeIfOurs(this.lock.location.lockDir, false);
    } catch {
      // Best effort: a folder we cannot remove is judged by its record and our process, which is ending.
    }
  }

  /**
   * Records the processes whose life keeps the lock held, by pid and start time, each with the mark its environment
   * carries (MARK_VAR) when it was started with one; a process that leads its own group is recorded with its group.
   */
  setTasks(tasks: Array<{ name: string; pid: number; start?: string | null; mark?: string }>): void {
    if (this.released) {
      return;
    }
    // The folder may have gone since the watch's last word: a record written now would land on someone else's.
    if (!this.stillOurs()) {
      this.lose('the lock folder was removed or replaced');
      return;
    }
    const refs: TaskRef[] = [];
    for (const t of tasks) {
      const start = processStart(t.pid);
      // A known start time must still match: the pid may have been reused meanwhile.
      if (start !== null && (t.start === undefined || t.start === null || t.start === start)) {
        refs.push({ name: clipName(t.name), pid: t.pid, start, ...(groupLedBy(t.pid) ? { group: true } : {}), ...(t.mark === undefined ? {} : { mark: t.mark }) });
      }
    }
    this.rec = { ...this.rec, tasks: refs };
    writeRecord(this.lock.location.recordPath, this.rec);
    // Taken away while the record was written: the taker read the record before ours, or it reads ours; either
    // way the owner must learn it now (isHeld), before it lets the tasks start.
    if (!this.stillOurs()) {
      this.lose('the lock folder was removed or replaced');
    }
  }

  /** The release under way, if any: a second release waits for it (a handoff's answer is sent inside it). */
  private releasing: Promise<void> | undefined;

  release(reason: ByeReason = 'released', beforeGoodbye?: () => void): Promise<void> {
    if (this.releasing === undefined && this.released) {
      // Lost before: its owner has stopped its tasks now, so the fenced channel (see lose) may go.
      this.channel?.close('compromised');
      return Promise.resolve();
    }
    this.releasing ??= this.releaseOnce(reason, beforeGoodbye);
    return this.releasing;
  }

  private async releaseOnce(reason: ByeReason, beforeGoodbye?: () => void): Promise<void> {
    this.released = true;
    heldHandles.delete(this);
    // The folder first, then the record: killed in between, a record without a folder counts for nothing,
    // while a folder without a record is a lock nobody can name, judged by its heartbeat alone (and a touch
    // can date that ahead).
    try {
      await this.unlock();
    } catch {
      // ENOTACQUIRED after proper-lockfile gave the lock up: letGoOfFolder removes it.
    }
    this.letGoOfFolder();
    removeRecordIfOwned(this.lock.location.recordPath, this.rec.token);
    dropClaim(this.lock.location, this.rec.lockId, identityOf(this.lock.location.lockDir) ?? 'none');
    beforeGoodbye?.();
    this.channel?.close(reason);
    this.dispose();
  }

  /** Whether a recorded task still runs (by pid and start time). */
  tasksAlive(): boolean {
    return this.rec.tasks.some((t) => isAlive(t));
  }

  /** Process exit with tasks still running: the lock and the record stay; only the channel goes. */
  leaveToTasks(): void {
    this.folderWatch?.close();
    this.channel?.closeSync();
  }

  /** Process exit: synchronous, and best effort. */
  releaseSync(): void {
    if (this.released) {
      return;
    }
    this.released = true;
    // The folder first, then the record (see release).
    try {
      lockfile.unlockSync(this.lock.location.target, { realpath: false, fs: lockFs });
    } catch {
      // Already released, or given up by proper-lockfile: letGoOfFolder removes it.
    }
    this.letGoOfFolder();
    removeRecordIfOwned(this.lock.location.recordPath, this.rec.token);
    dropClaim(this.lock.location, this.rec.lockId, identityOf(this.lock.location.lockDir) ?? 'none');
    this.channel?.closeSync();
  }

  /** proper-lockfile's onCompromised: a real loss only when the folder is no longer ours (see beatOurselves). */
  markCompromised(err: Error): void {
    if (this.released) {
      return;
    }
    if (this.stillOurs()) {
      this.beatOurselves();
      return;
    }
    this.lose(err.message);
  }

  /** The lock was removed or taken from under this holder: it holds nothing now, and its owner must stop. */
  private lose(why: string): void {
    if (this.released) {
      return;
    }
    this.released = true;
    this.folderWatch?.close();
    clearInterval(this.beat);
    heldHandles.delete(this);
    const err = new Error(why);
    this.compromiseError = err;
    // The record stays. It names what this holder started, and whoever took the folder away may still read it
    // (a forced reclaim keeps the lock held for the tasks it names); without our folder it counts for nothing,
    // and the next holder writes its own over it. Removing it here also raced with that next holder's write.
    // The channel stays, fenced, until the owner has stopped its tasks and calls release(): the next taker
    // waits for it before starting its own (the lock home removed under a running command: found by the soak).
    this.channel?.fence();
    this.compromised.fire(new LockError('io', `The lock in ${this.lock.location.home} was removed or taken over while held (${err.message}).`));
    this.dispose();
  }

  get compromise(): Error | undefined {
    return this.compromiseError;
  }

  private onMessage(m: Message, reply: (m: Message) => void): void {
    if (m.t === 'start' && !this.released) {
      this.onStart(m, reply);
      return;
    }
    if (m.t !== 'handoff' || this.released) {
      return;
    }
    const requester = { kind: String(m.kind), label: String(m.label), pid: Number(m.pid) };
    if (this.handoff.size === 0) {
      reply({ t: 'handoff-refused', id: m.id, reason: 'it does not hand over (no owner is listening)' });
      return;
    }
    let answered = false;
    this.handoff.fire({
      requester,
      accept: async () => {
        if (answered) {
          return;
        }
        answered = true;
        if (this.released) {
          // It let go meanwhile (its command ended, a Ctrl+C): the lock is free, or lost to another; either way the
          // requester hears it now rather than from a closed channel.
          reply(this.compromiseError === undefined ? { t: 'handoff-accepted', id: m.id } : { t: 'handoff-refused', id: m.id, reason: 'it has lost the lock' });
          return;
        }
        writeReservation(this.lock.location.reservationPath, m.token);
        // The answer goes out after the unlock and before the goodbye, so the requester moves first.
        await this.release('handoff', () => reply({ t: 'handoff-accepted', id: m.id }));
      },
      refuse: (reason: string) => {
        if (!answered) {
          answered = true;
          reply({ t: 'handoff-refused', id: m.id, reason });
        }
      },
    });
  }

  /** A follower asks the holder to start guarded tasks that run nowhere (only the holder may start them). */
  private onStart(m: Extract<Message, { t: 'start' }>, reply: (m: Message) => void): void {
    const names = Array.isArray(m.names) ? m.names.filter((n): n is string => typeof n === 'string').slice(0, 64) : [];
    if (this.startRequest.size === 0 || names.length === 0) {
      reply({ t: 'start-answer', id: m.id, started: [], reason: names.length === 0 ? 'no task named' : 'it does not start tasks on request (a task-lock run)' });
      return;
    }
    let answered = false;
    this.startRequest.fire({
      requester: { kind: String(m.kind), label: String(m.label), pid: Number(m.pid) },
      names,
      answer: (started: string[], reason?: string) => {
        if (!answered) {
          answered = true;
          reply({ t: 'start-answer', id: m.id, started, ...(reason === undefined ? {} : { reason }) });
        }
      },
    });
  }

  private dispose(): void {
    this.compromised.dispose();
    this.handoff.dispose();
    this.startRequest.dispose();
  }
}
