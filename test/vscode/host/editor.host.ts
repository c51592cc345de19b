import * as assert from 'node:assert';
import { Harness } from '../../harness/harness';
import { editorTestModule } from '../../harness/paths';

// Host side of the real-editor suites: each describe gets its own code-server, each test a fresh fixture copy.

describe('one window', function () {
  let h: Harness | undefined;
  before(async () => {
    h = await Harness.start('one window');
  });
  after(async () => {
    await h?.stop();
  });

  it('activates the extension and runs the fixture tasks in the editor', async () => {
    const harness = h as Harness;
    const [result] = await harness.runWindows(1, { folder: harness.workspace('basic'), testModule: editorTestModule('single/index.js') });
    assert.strictEqual(result.exitCode, 0, result.failures.join('\n'));
    assert.ok(result.passed >= 3, `expected the editor to run the single-window tests, it passed ${result.passed}`);
  });
});

describe('two windows on one folder', function () {
  let h: Harness | undefined;
  before(async () => {
    h = await Harness.start('two windows');
  });
  after(async () => {
    await h?.stop();
  });

  it('each window has its own extension host and sees the other one on disk', async () => {
    const harness = h as Harness;
    const folder = harness.workspace('basic');
    const windows = await harness.openWindows(2, { folder, testModule: editorTestModule('multi/index.js') });
    assert.notStrictEqual(windows[0].extensionHostPid, windows[1].extensionHostPid);
    const results = await Promise.all(windows.map((w) => w.result()));
    for (const r of results) {
      assert.strictEqual(r.exitCode, 0, `window ${r.window}: ${r.failures.join('\n')}`);
      assert.strictEqual(r.passed, 1);
    }
  });

  it('killing one window\'s extension host leaves the other window\'s running', async () => {
    const harness = h as Harness;
    const folder = harness.workspace('basic');
    const [a, b] = await harness.openWindows(2, { folder });
    assert.deepStrictEqual(new Set(harness.extensionHostPids()), new Set([a.extensionHostPid, b.extensionHostPid]), `server log:\n${harness.serverLogTail()}`);
    await harness.killExtensionHost(a);
    assert.deepStrictEqual(harness.extensionHostPids(), [b.extensionHostPid], `server log:\n${harness.serverLogTail()}`);
    await b.close();
    assert.strictEqual(harness.countProcesses('extensionHost'), 0);
  });
});
