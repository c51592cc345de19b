// Waits for the lock and prints the wall clock (Date.now(), shared by every process on the host) the
// moment it holds it, then releases and exits.
// Usage: node waiter.mjs engine|raw FOLDER [--hold] [--stale SECONDS]
//   --hold (engine): keep the lock until SIGTERM instead, and print `waiting STATE PID` (the holder's state
//     and pid, `-` when unknown) each time the holder changes. With many waiters the bench needs both: a
//     waiter that released at once would let the next one win, which would hide a second winner; and every
//     loser printing the winner's pid shows that it has looked again after the failover.
//   --stale (engine): the lock's stale time, as the holder's `task-lock run --stale`.
import { engine, keepAlive, lockfile, rawTarget, say } from './common.mjs';

const [mode, folder, ...flags] = process.argv.slice(2);
const hold = flags.includes('--hold');
const staleAt = flags.indexOf('--stale');
const staleMs = staleAt >= 0 ? Number(flags[staleAt + 1]) * 1000 : undefined;

if (mode === 'raw') {
  const target = rawTarget(folder);
  const opts = { realpath: false, onCompromised: () => undefined };
  let release;
  try {
    release = await lockfile.lock(target, opts);
  } catch {
    say('waiting');
    // proper-lockfile does not wait by default; a fixed 100 ms retry is the plainest fair waiter.
    release = await lockfile.lock(target, { ...opts, retries: { retries: 1000, factor: 1, minTimeout: 100, maxTimeout: 100 } });
  }
  say(`held ${Date.now()}`);
  await release();
} else if (hold) {
  const lock = new engine.WorkspaceLock(folder, { staleMs });
  let handle;
  // A loser (still waiting) just exits; the winner releases first, so the next round finds the lock free.
  process.once('SIGTERM', () => {
    void (handle ? handle.release() : Promise.resolve()).finally(() => process.exit(0));
  });
  handle = await lock.acquire(
    { kind: 'cli', label: 'bench waiter' },
    { onWaiting: (s) => say(`waiting ${s.state} ${(s.state === 'held' || s.state === 'stale') && s.holder.record ? s.holder.record.pid : '-'}`) },
  );
  say(`held ${Date.now()}`);
  keepAlive();
} else {
  const lock = new engine.WorkspaceLock(folder, { staleMs });
  const handle = await lock.acquire({ kind: 'cli', label: 'bench waiter' }, { onWaiting: () => say('waiting') });
  say(`held ${Date.now()}`);
  await handle.release();
}
