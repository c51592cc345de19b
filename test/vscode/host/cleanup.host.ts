import * as assert from 'node:assert';
import { Harness } from '../../harness/harness';
import { isAlive, waitUntil } from '../../harness/procs';

describe('process cleanup', function () {
  it('a background task outlives its window\'s extension host, and stop() ends it', async () => {
    const h = await Harness.start('cleanup');
    let stopped = false;
    try {
      const win = await h.openWindow({ folder: h.workspace('demo') });
      await win.runTask('watch');
      const found = await waitUntil(() => h.processes('task').some((p) => p.cmdline.includes('watch.js')), 60_000);
      assert.ok(found, `the watch task did not start; window log:\n${win.log.slice(-20).join('\n')}`);
      const watch = h.processes('task').filter((p) => p.cmdline.includes('watch.js')).map((p) => p.pid);

      // Tasks run under the server's ptyHost, not under the extension host: a crashed window leaves them running.
      await win.killExtensionHost();
      assert.ok(watch.every(isAlive), 'the task process still runs after its window\'s extension host died');

      await h.stop();
      stopped = true;
      assert.ok(!watch.some(isAlive), 'stop() ended the task process');
      assert.strictEqual(h.countProcesses(), 0);
    } finally {
      if (!stopped) {
        await h.stop();
      }
    }
  });
});
