import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cleanup, cli, runCli, tempFolder } from '../support/fixtures';
import { waitFor } from '../support/wait';

// The lock's promise under faults (issue #7): each test reproduces one way it broke, with the real CLI.

after(async () => {
  assert.deepEqual(await cleanup(), [], 'processes were left running');
});

/** A command that runs until killed and tells its pid on stdout. */
const SLEEPER = ['--', process.execPath, '-e', 'console.log(process.pid); setInterval(() => {}, 1000)'];

async function holderPid(folder: string): Promise<number | undefined> {
  const r = await runCli(['status', '--folder', folder, '--json']);
  const s = JSON.parse(r.stdout) as { state: string; holder?: { pid: number; tasks: unknown[] } | null };
  return s.state === 'held' && s.holder && s.holder.tasks.length > 0 ? s.holder.pid : undefined;
}

describe('faults', () => {
  it('a holder forced out does not remove its successor\'s lock when its command ends (#7 item 3)', async () => {
    const folder = tempFolder();
    // A holds while its command runs for a moment; a forced reclaim takes the lock away from it.
    const a = cli(['run', '--folder', folder, '--', process.execPath, '-e', 'setTimeout(() => {}, 1500)']);
    await waitFor('A to hold', () => holderPid(folder).then((p) => p === a.pid));
    assert.equal((await runCli(['reclaim', '--folder', folder, '--force'])).code, 0);
    const b = cli(['run', '--folder', folder, ...SLEEPER]);
    await waitFor('B to hold', () => holderPid(folder).then((p) => p === b.pid));
    // A's command ends: A releases what it believes is its lock.
    await a.result;
    assert.equal(await holderPid(folder), b.pid, 'B still holds the lock');
    const c = await runCli(['run', '--folder', folder, '--', 'true']);
    assert.equal(c.code, 75, `a third command ran beside B: ${c.stderr}`);
    b.kill('SIGTERM');
    await b.result;
  });
});
