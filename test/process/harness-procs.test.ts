import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { markedProcesses, markerVariable } from '../harness/procs';
import { cleanup, ownPid, start } from '../support/fixtures';
import { waitFor } from '../support/wait';

after(async () => {
  assert.deepEqual(await cleanup(), [], 'processes were left running');
});

/**
 * The real-editor harness finds a window's extension host by its command line. A child that the
 * extension host forks (to run `git`, say) keeps that command line until it execs; the harness once
 * took such a child for the next window's extension host, and a later step waited a minute for the
 * lock to name a pid that was never the window's.
 */
describe('the harness tells a window\'s extension host from its children', () => {
  it('a child with its parent\'s command line (fork before exec) is not an extension host', async () => {
    const marker = `procs-test-${process.pid}-${Date.now()}`;
    // The parent re-runs its own command line as a child that only sleeps: the same cmdline, as
    // between fork and exec. The environment variable keeps the child from doing the same.
    const script = [
      "const { spawn } = require('node:child_process');",
      'if (process.env.PROCS_TEST_CHILD === undefined) {',
      "  const argv = require('node:fs').readFileSync('/proc/self/cmdline', 'utf8').split('\\0').filter((a) => a !== '');",
      "  const c = spawn(argv[0], argv.slice(1), { stdio: 'ignore', env: { ...process.env, PROCS_TEST_CHILD: '1' } });",
      "  console.log('child ' + c.pid);",
      '}',
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const parent = start(process.execPath, ['-e', script, '--', '--type=extensionHost'], { env: { ...process.env, [markerVariable]: marker } });
    try {
      await checkParentOnly(marker, parent.pid ?? 0, () => parent.out());
    } finally {
      parent.kill('SIGKILL');
      await parent.exited;
    }
  });
});

async function checkParentOnly(marker: string, parentPid: number, out: () => string): Promise<void> {
  const childPid = Number(await waitFor('the parent to start its child', () => /child (\d+)/.exec(out())?.[1]));
  ownPid(childPid);
  const mine = await waitFor('both processes in the process table', () => {
    const list = markedProcesses(marker);
    return list.some((p) => p.pid === childPid) && list.some((p) => p.pid === parentPid) ? list : undefined;
  });
  const child = mine.find((p) => p.pid === childPid);
  assert.equal(child?.cmdline, mine.find((p) => p.pid === parentPid)?.cmdline, 'the test needs the child to show its parent\'s command line');
  assert.deepEqual(mine.filter((p) => p.kind === 'extensionHost').map((p) => p.pid), [parentPid]);
}
