import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Harness } from '../../harness/harness';
import { sleep, waitFor } from '../../support/wait';
import { slowEditor, status, ticks } from './guarded';

// A multi-root workspace: two folders of the `guarded` fixture in one `.code-workspace`. Each folder has
// its own lock; the status bar sums them up; a second window on the same workspace follows both.

describe('Task Lock in a multi-root workspace', function () {
  let h: Harness | undefined;
  const folders: string[] = [];
  before(async () => {
    h = await Harness.start('multi-root');
  });
  after(async () => {
    for (const f of folders) {
      for (const pid of ticks(f)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
    }
    await h?.stop();
  });

  it('one lock per folder, both held by the first window; the second window follows both; the status bar sums up', async () => {
    const harness = h as Harness;
    const a = harness.workspace('guarded');
    const b = harness.workspace('guarded');
    folders.push(a, b);
    const file = path.join(path.dirname(a), 'two.code-workspace');
    fs.writeFileSync(file, JSON.stringify({ folders: [{ path: a }, { path: b }] }, null, 2));

    const first = await harness.openWindow({ folder: file });
    for (const f of [a, b]) {
      await waitFor(`the first window to hold ${path.basename(f)} and run its watch`, () => {
        const s = status(f);
        const t = ticks(f);
        return s.state === 'held' && s.holder?.pid === first.extensionHostPid && t.length === 1 && s.holder.tasks.some((x) => x.pid === t[0]);
      }, slowEditor);
    }
    await first.waitForStatus(/2 folders here/);

    const second = await harness.openWindow({ folder: file });
    await second.waitForStatus(/2 folders elsewhere/, 60_000);
    // Give the second window time to do anything wrong, then count: still one copy per folder, same holder.
    // A start that must not happen has no event to wait for: this sleep is the period it gets to show.
    await sleep(3000);
    for (const f of [a, b]) {
      assert.strictEqual(ticks(f).length, 1, `one watch for ${path.basename(f)}`);
      assert.strictEqual(status(f).holder?.pid, first.extensionHostPid);
    }
    await second.close();
    await first.close();
  });
});
