// Handing the lock over to a requester: the request over the holder's channel, and the short reservation
// that keeps other waiters from slipping in between the holder's release and the requester's claim.
import * as fs from 'node:fs';
import { connect, send } from './channel';
import { LockError } from './errors';
import { readSmallFile, writeFileAtomic } from './files';
import { newToken } from './record';
import { describeHolder, type HolderView, type LockState } from './state';
import type { HolderInfo, LockHandle } from './handle';
import type { WorkspaceLock } from './lock';

export interface HandoffRequest {
  requester: { kind: string; label: string; pid: number };
  /** Call once the tasks are stopped: the lock is released and reserved for the requester. */
  accept(): Promise<void>;
  refuse(reason: string): void;
}

/** Reserved for the requester of a handoff this long; after it anybody may take the lock again. */
export const RESERVATION_MS = 5_000;

/**
 * How long a Take Over (VS Code's, `run --take-over`, `task-lock stop`) waits for the holder's answer. A window
 * holder first stops its tasks, for up to 10 s (src/tasks/running.ts, STOP_WAIT_MS), and refuses if they do not
 * stop; 5 s more leave room for that answer on a busy machine.
 */
export const TAKE_OVER_WAIT_MS = 15_000;

/**
 * The reservation, if any. Its end is what it says, but never later than RESERVATION_MS after its file was
 * written: a file claiming a far-future end (a bug, a clock jump, a hand edit) must not lock everyone out.
 */
export function readReservation(p: string): { token: string; until: number } | undefined {
  const f = readSmallFile(p, 1024);
  if (f.kind !== 'text') {
    return undefined;
  }
  try {
    const d = JSON.parse(f.text) as { token?: unknown; until?: unknown };
    if (typeof d.token !== 'string' || typeof d.until !== 'number') {
      return undefined;
    }
    return { token: d.token, until: Math.min(d.until, f.mtimeMs + RESERVATION_MS) };
  } catch {
    return undefined;
  }
}

/** What `status` says of the reservation file: in effect (for how long), over (a harmless leftover), or bad. */
export type ReservationView = { state: 'active'; remainingMs: number } | { state: 'over' } | { state: 'bad'; reason: string; removable: boolean };

export function viewReservation(p: string, nowMs = Date.now()): ReservationView | undefined {
  const f = readSmallFile(p, 1024);
  if (f.kind === 'none') {
    return undefined;
  }
  if (f.kind === 'bad') {
    // unlink removes anything but a folder.
    let removable = true;
    try {
      removable = !fs.lstatSync(p).isDirectory();
    } catch {
      // Gone meanwhile.
    }
    return { state: 'bad', reason: f.reason, removable };
  }
  const r = readReservation(p);
  if (r === undefined) {
    return { state: 'bad', reason: `${p} is not a valid reservation`, removable: true };
  }
  return r.until > nowMs ? { state: 'active', remainingMs: r.until - nowMs } : { state: 'over' };
}

/**
 * Removes a reservation file that is over or bad, under the reclaim mutex, and says what it removed. One in
 * effect ends by itself within seconds: it stays. A handoff writes its reservation without the mutex, so the
 * file is looked at again right before the unlink, by identity: a fresh one renamed into place meanwhile
 * stays. What cannot be removed (a folder named handoff.json) is left and said, never an error: a reclaim
 * must go on past it.
 */
export async function clearReservation(lock: WorkspaceLock): Promise<ReservationView | undefined> {
  const p = lock.location.reservationPath;
  return lock.withReclaimMutex(() => {
    const r = viewReservation(p);
    if (r === undefined || r.state === 'active') {
      return undefined;
    }
    const seen = identityOf(p);
    if (seen === undefined || viewReservation(p)?.state === 'active' || identityOf(p) !== seen) {
      return undefined;
    }
    try {
      // unlink removes a link or a FIFO itself, never what it points to.
      fs.unlinkSync(p);
    } catch {
      return undefined;
    }
    return r;
  });
}

function identityOf(p: string): string | undefined {
  try {
    const st = fs.lstatSync(p);
    return `${st.dev}:${st.ino}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}

export function writeReservation(p: string, token: string): void {
  writeFileAtomic(p, JSON.stringify({ token, until: Date.now() + RESERVATION_MS }), 0o644);
}

type Answer = 'accepted' | { refused: string } | 'no-answer' | 'gone';

/**
 * Asks the live holder to hand the lock over. The holder's owner answers (after stopping its tasks);
 * the lock is then reserved for this caller, who takes it. No answer within `timeoutMs` is an error.
 */
export async function requestHandoff(lock: WorkspaceLock, info: HolderInfo, opts: { timeoutMs?: number } = {}): Promise<LockHandle> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const state = lock.inspect();
  if (state.state === 'free' || state.state === 'stale') {
    const r = await lock.tryAcquire(info);
    if (r.ok) {
      return r.handle;
    }
    if (r.reserved) {
      throw new LockError('held', 'The lock is being handed over to someone else right now; try again in a few seconds.');
    }
    // Someone took it meanwhile: ask them.
    return requestHandoff(lock, info, opts);
  }
  if (state.state !== 'held') {
    throw state.state === 'error'
      ? new LockError('io', state.message, { facts: state.facts })
      : new LockError('io', 'This process already holds the lock.', { facts: { problem: 'already-held' } });
  }
  const { answer, token } = await ask(state.holder, info, timeoutMs);
  // Accepted, or the holder went away meanwhile: either way the lock is (about to be) free or reserved for us.
  return lock.acquire(info, { waitMs: RESERVATION_MS, token }).catch((err: unknown) => {
    throw err instanceof LockError && err.code === 'timeout' && answer === 'gone'
      ? new LockError('handoff-no-answer', `The holder, ${describeHolder(state.holder)}, closed the channel without handing over.`, { reason: 'closed its channel without handing over', facts: { problem: 'channel-closed', holder: state.holder } })
      : err;
  });
}

/**
 * Asks the live holder to stop its tasks and release, for a caller that takes nothing (`task-lock stop`). The
 * holder answers as to a handoff; the reservation it leaves for the caller is given up at once. The caller never
 * holds the lock itself, not even for a moment: to a window's followers such a hold would look like a `run`
 * that ended, and they would fail over and start the very tasks just stopped, whereas a window that handed
 * over is, to them, a window whose user released the lock. A lock that is not held is left alone. Resolves
 * with the lock's state afterwards; throws as requestHandoff does when the holder refuses or keeps quiet.
 */
export async function requestRelease(lock: WorkspaceLock, info: HolderInfo, opts: { timeoutMs?: number } = {}): Promise<LockState> {
  const state = lock.inspect();
  if (state.state !== 'held') {
    return state;
  }
  const { answer, token } = await ask(state.holder, info, opts.timeoutMs ?? 10_000);
  if (answer === 'accepted') {
    await dropReservation(lock, token);
  } else {
    // The channel closed without an answer: its holder released on its own (its command ended) or died.
    const now = lock.inspect();
    if (now.state === 'held' && now.holder.record !== undefined && now.holder.record.token === state.holder.record?.token) {
      throw new LockError('handoff-no-answer', `The holder, ${describeHolder(state.holder)}, closed the channel without releasing.`, { reason: 'closed its channel without releasing', facts: { problem: 'channel-closed', holder: state.holder } });
    }
    return now;
  }
  return lock.inspect();
}

/**
 * Asks `holder` over its channel. Resolves when it accepted (the lock is then free and reserved for `token`) or
 * closed its channel without an answer; throws when it cannot be asked, refuses, or does not answer in time.
 */
async function ask(holder: HolderView, info: HolderInfo, timeoutMs: number): Promise<{ answer: 'accepted' | 'gone'; token: string }> {
  const rec = holder.record;
  if (!rec || !holder.sameHost || !rec.socket) {
    throw new LockError('not-same-host', `The holder, ${describeHolder(holder)}, cannot be asked from here: it is not on this host or has no channel.`, { facts: { holder } });
  }
  const socketPath = rec.socket;
  const token = newToken();
  const id = newToken();
  const answer = await new Promise<Answer>((resolve) => {
    const timer = setTimeout(() => finish('no-answer'), timeoutMs);
    let settled = false;
    const finish = (v: Answer): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(v);
      }
    };
    const socket = connect(socketPath, {
      onMessage: (m) => {
        if (m.t === 'handoff-accepted' && m.id === id) {
          finish('accepted');
        } else if (m.t === 'handoff-refused' && m.id === id) {
          finish({ refused: m.reason });
        }
      },
      onClose: () => finish('gone'),
    });
    socket.ref();
    send(socket, { t: 'handoff', id, token, kind: info.kind, label: info.label, pid: process.pid });
  });
  if (answer === 'no-answer') {
    const seconds = String(Math.round(timeoutMs / 1000));
    const reason = `did not answer within ${seconds} s`;
    throw new LockError('handoff-no-answer', `The holder, ${describeHolder(holder)}, ${reason}.`, { reason, facts: { problem: 'no-answer', detail: seconds, holder } });
  }
  if (typeof answer === 'object') {
    throw new LockError('handoff-refused', `The holder, ${describeHolder(holder)}, refused: ${answer.refused}`, { reason: answer.refused, facts: { detail: answer.refused, holder } });
  }
  return { answer, token };
}

/**
 * Gives up the reservation a holder left for `token`, at once rather than after RESERVATION_MS: nobody is to
 * wait for a caller that takes nothing. Under the reclaim mutex, by identity, as clearReservation removes one.
 */
async function dropReservation(lock: WorkspaceLock, token: string): Promise<void> {
  const p = lock.location.reservationPath;
  await lock.withReclaimMutex(() => {
    const seen = identityOf(p);
    if (seen === undefined || readReservation(p)?.token !== token || identityOf(p) !== seen) {
      return;
    }
    try {
      fs.unlinkSync(p);
    } catch {
      // Gone already; one left behind ends by itself within RESERVATION_MS.
    }
  });
}
