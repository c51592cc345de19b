import * as path from 'node:path';
import { Harness } from './harness';
import { say } from './log';
import { repoRoot } from './paths';
import { sleep, waitFor } from '../support/wait';

// `npm run screenshots`: pictures for the README, taken from the real editor with the demo workspace.

async function main(): Promise<void> {
  const h = await Harness.start('screenshots', { installExtension: true });
  try {
    const folder = h.workspace('demo');
    const win = await h.openWindow({ folder, extensionPath: null, viewport: { width: 1280, height: 720 } });
    await win.page.waitForSelector('.statusbar', { timeout: 120_000 });
    await win.runTask('watch');
    await waitFor('the demo watch task to start', () => h.processes().some((p) => p.cmdline.includes('watch.js')), { timeoutMs: 60_000, everyMs: 100 });
    // Let a few ticks reach the terminal so the picture shows a live task.
    await sleep(4_000);
    const file = path.join(repoRoot, 'media', 'screenshot-window.png');
    await win.screenshot(file);
    say(`wrote ${path.relative(repoRoot, file)}`);
  } finally {
    await h.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
