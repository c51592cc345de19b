// A lock holder: `engine` (Task Lock, optionally handing over at once) or `raw` (proper-lockfile defaults).
// Usage: node holder.mjs engine|raw FOLDER [--handoff]
import { engine, keepAlive, lockfile, rawTarget, say } from './common.mjs';

const [mode, folder, ...flags] = process.argv.slice(2);
const alive = keepAlive();

if (mode === 'raw') {
  await lockfile.lock(rawTarget(folder), { realpath: false, onCompromised: () => undefined });
  say(`ready ${process.pid}`);
} else {
  const lock = new engine.WorkspaceLock(folder);
  const r = await lock.tryAcquire({ kind: 'cli', label: 'bench holder' });
  if (!r.ok) {
    say(`busy ${r.state.state}`);
    process.exit(3);
  }
  if (flags.includes('--handoff')) {
    r.handle.onHandoffRequest((req) => {
      // Exiting by emptying the event loop lets the accept reply flush before the process ends.
      void req.accept().then(() => clearInterval(alive));
    });
  }
  say(`ready ${process.pid}`);
}
