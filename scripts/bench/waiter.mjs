// Waits for the lock and prints the wall clock (Date.now(), shared by every process on the host) the
// moment it holds it, then releases and exits.
// Usage: node waiter.mjs engine|raw FOLDER
import { engine, lockfile, rawTarget, say } from './common.mjs';

const [mode, folder] = process.argv.slice(2);

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
} else {
  const lock = new engine.WorkspaceLock(folder);
  const handle = await lock.acquire({ kind: 'cli', label: 'bench waiter' }, { onWaiting: () => say('waiting') });
  say(`held ${Date.now()}`);
  await handle.release();
}
