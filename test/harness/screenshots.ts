import * as path from 'node:path';
import { Harness } from './harness';
import { say } from './log';
import { waitUntil } from './procs';
import { repoRoot } from './paths';

// `npm run screenshots`: pictures for the README, taken from the real editor with the demo workspace.

async function main(): Promise<void> {
  const h = await Harness.start('screenshots', { installExtension: true });
  try {
    const folder = h.workspace('demo');
    const win = await h.openWindow({ folder, extensionPath: null, viewport: { width: 1280, height: 720 } });
    await win.page.waitForSelector('.statusbar', { timeout: 120_000 });
    await win.runTask('watch');
    const running = await waitUntil(() => h.processes().some((p) => p.cmdline.includes('watch.js')), 60_000);
    if (!running) {
      throw new Error('the demo watch task did not start');
    }
    // Let a few ticks reach the terminal so the picture shows a live task.
    await new Promise((r) => setTimeout(r, 4_000));
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
