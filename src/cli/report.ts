// What the CLI prints about a lock: one line of text, or JSON from the engine's one holder projection.
import { LockState, WorkspaceLock, describeHolder, holderFields } from '../lock';

export function err(line: string): void {
  process.stderr.write(`task-lock: ${line}\n`);
}

export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** The holder of a held or stale lock, else the state's name: for "locked by …" sentences. */
export function holderLine(state: LockState): string {
  return state.state === 'held' || state.state === 'mine' || state.state === 'stale' ? describeHolder(state.holder) : state.state;
}

export function stateJson(lock: WorkspaceLock, s: LockState): Record<string, unknown> {
  const base: Record<string, unknown> = { folder: lock.location.folder, lockHome: lock.location.home };
  if (lock.location.fallbackReason) {
    base.fallback = lock.location.fallbackReason;
  }
  if (s.state === 'free') {
    return { state: 'free', ...base };
  }
  if (s.state === 'error') {
    return { state: 'error', message: s.message, ...base };
  }
  const holder = holderFields(s.holder) ?? null;
  return {
    state: s.state === 'stale' ? 'stale' : 'held',
    holder,
    ...(holder ? {} : { unknownHolder: s.holder.unknownReason }),
    ...(s.state === 'stale' ? { reason: s.reason } : {}),
    ...base,
  };
}
