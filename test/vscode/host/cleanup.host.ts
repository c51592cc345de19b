import * as assert from 'node:assert';
import { Harness } from '../../harness/harness';
import { pidAlive, waitFor } from '../../support/wait';

describe('process cleanup', function () {
  it('a background task outlives its window\'s extension host, and stop() ends it', async () => {
    const h = await Harness.start('cleanup');
    let stopped = false;
    try {
      const win = await h.openWindow({ folder: h.workspace('demo') });
      await win.runTask('watch');
      const watch = await waitFor(
        'the watch task to start',
        () => {
          const pids = h.processes('task').filter((p) => p.cmdline.includes('watch.js')).map((p) => p.pid);
          return pids.length > 0 ? pids : undefined;
        },
        { timeoutMs: 60_000, everyMs: 100 },
      ).catch((err: unknown) => {
        throw new Error(`${err instanceof Error ? err.message : String(err)}; window log:\n${win.log.slice(-20).join('\n')}`);
      });

      // Tasks run under the server's ptyHost, not under the extension host: a crashed window leaves them running.
      await win.killExtensionHost();
      assert.ok(watch.every(pidAlive), 'the task process still runs after its window\'s extension host died');

      await h.stop();
      stopped = true;
      assert.ok(!watch.some(pidAlive), 'stop() ended the task process');
      assert.strictEqual(h.countProcesses(), 0);
    } finally {
      if (!stopped) {
        await h.stop();
      }
    }
  });
});
