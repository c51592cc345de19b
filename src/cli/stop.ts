// `task-lock stop`: the holder (a VS Code window or a `run`) is asked to stop its tasks and release the lock,
// which nobody takes. The engine's requestRelease says why this never holds the lock itself.
import { LockError, LockState, TAKE_OVER_WAIT_MS, WorkspaceLock } from '../lock';
import type { Parsed } from './args';
import { EXIT_BUSY, EXIT_ERROR } from './codes';
import { err, holderLine, nobodyToAsk, out, reservationNote } from './report';

/** How a stopper is named to the holder: a window says "handed watch over to task-lock stop". */
const STOPPER = { kind: 'cli' as const, label: 'task-lock stop' };

export async function stop(p: Parsed): Promise<number> {
  const lock = new WorkspaceLock(p.folder, { staleMs: p.staleMs, lockDirectory: p.lockDirectory });
  const folder = lock.location.folder;
  let before = lock.inspect();
  if (before.state === 'stale') {
    // Its holder is gone, tasks and all: what is left to do is what any taker would do, remove its lock.
    const r = await lock.reclaim();
    if (r.result === 'reclaimed' && r.previous.state === 'stale') {
      out(`nothing to stop: ${holderLine(r.previous)} is gone (${r.previous.reason}); removed its stale lock, so the lock on ${folder} is free`);
      return 0;
    }
    before = lock.inspect();
  }
  switch (before.state) {
    case 'error':
      err(before.message);
      return EXIT_ERROR;
    case 'free': {
      const reserved = reservationNote(lock.reservation());
      out(`nothing to stop: the lock on ${folder} is free already${reserved === undefined ? '' : ` (${reserved})`}`);
      return 0;
    }
    case 'stale':
      // Reclaimed by another meanwhile, or turned stale again: not this command's to chase.
      out(`nothing to stop: the lock on ${folder} is stale (${before.reason}); its holder is gone`);
      return 0;
  }
  const held = `${folder} is held by ${holderLine(before)}`;
  const orphan = nobodyToAsk(before);
  if (orphan !== undefined) {
    err(`${held}: ${orphan}`);
    return EXIT_ERROR;
  }
  err(`${held}. Asking it to stop its tasks and release the lock (up to ${TAKE_OVER_WAIT_MS / 1000} s)...`);
  let after: LockState;
  try {
    after = await lock.requestRelease(STOPPER, { timeoutMs: TAKE_OVER_WAIT_MS });
  } catch (e) {
    if (!(e instanceof LockError)) {
      throw e;
    }
    switch (e.code) {
      case 'handoff-refused':
        err(`${held}, which refused to stop: ${e.reason ?? e.message}. Stop it where it runs, or take the lock away with task-lock reclaim --force.`);
        return EXIT_BUSY;
      case 'handoff-no-answer':
        err(`${held}, which ${e.reason ?? 'did not answer'}. Its tasks may not stop: end them yourself, or take the lock away with task-lock reclaim --force.`);
        return EXIT_ERROR;
      case 'not-same-host':
        err(`${held}, which cannot be asked to stop from here (another host, or a holder without a channel). Stop it where it runs, or take the lock away with task-lock reclaim --force.`);
        return EXIT_BUSY;
      default:
        throw e;
    }
  }
  switch (after.state) {
    case 'held':
      // A `run --wait` (or a window) that was waiting for the lock: its turn, not this command's business.
      out(`stopped ${holderLine(before)}; ${holderLine(after)} has taken the lock on ${folder} since`);
      return 0;
    case 'error':
      err(after.message);
      return EXIT_ERROR;
    default:
      out(`stopped ${holderLine(before)}: the lock on ${folder} is free`);
      return 0;
  }
}
