import * as fs from 'node:fs';
import * as path from 'node:path';
import { Harness } from './harness';
import { say } from './log';
import { repoRoot } from './paths';
import { sleep, waitFor } from '../support/wait';
import type { EditorWindow } from './window';

// `npm run screenshots`: pictures for the README and CONTRIBUTING.md, taken from the real editor with the extension installed.
// Not a test: it asserts nothing, it only waits until there is something worth a picture.

const media = path.join(repoRoot, 'media');

/** media/screenshot-window.png: one window on the demo workspace running its watch task. */
async function demoWindow(h: Harness): Promise<void> {
  const folder = h.workspace('demo');
  const win = await h.openWindow({ folder, extensionPath: null, viewport: { width: 1280, height: 720 } });
  await win.page.waitForSelector('.statusbar', { timeout: 120_000 });
  await win.runTask('watch');
  await waitFor('the demo watch task to start', () => h.processes().some((p) => p.cmdline.includes('watch.js')), { timeoutMs: 60_000, everyMs: 100 });
  // Let a few ticks reach the terminal so the picture shows a live task.
  await sleep(4_000);
  await shoot(win, 'screenshot-window.png');
  await win.close();
}

/**
 * media/screenshot-holder.png and screenshot-follower.png: two windows on one `guarded` folder; then
 * screenshot-orphan.png: the holder's page closed while its task runs on, as the follower shows it (with a grace
 * long enough that nothing moves while the picture is taken).
 */
async function holderAndFollower(h: Harness): Promise<void> {
  const folder = h.workspace('guarded');
  const settings = path.join(folder, '.vscode', 'settings.json');
  fs.writeFileSync(settings, JSON.stringify({ ...(JSON.parse(fs.readFileSync(settings, 'utf8')) as object), 'taskLock.orphanGraceSeconds': 3600 }));
  const windows = await h.openWindows(2, { folder, extensionPath: null });
  const [holder, follower] = await waitFor(
    'one window to hold the lock and the other to follow',
    async () => {
      for (const [a, b] of [[0, 1], [1, 0]]) {
        if ((await windows[a].statusShows(/this window runs watch/)) && (await windows[b].statusShows(/watch runs in/))) {
          return [windows[a], windows[b]];
        }
      }
      return undefined;
    },
    { timeoutMs: 120_000, everyMs: 250 },
  );
  // Let a few ticks reach the holder's terminal.
  await sleep(4_000);
  await shoot(holder, 'screenshot-holder.png');
  await shoot(follower, 'screenshot-follower.png');
  await holder.closePage();
  const item = follower.page.locator('.statusbar-item').filter({ hasText: /runs without a window/ }).first();
  await item.waitFor({ state: 'visible', timeout: 180_000 });
  await item.hover();
  await follower.page.locator('.monaco-hover').first().waitFor({ state: 'visible', timeout: 30_000 }).catch(() => undefined);
  await shoot(follower, 'screenshot-orphan.png');
  for (const w of windows) {
    await w.close();
  }
}

async function shoot(win: EditorWindow, name: string): Promise<void> {
  const file = path.join(media, name);
  await win.screenshot(file);
  say(`wrote ${path.relative(repoRoot, file)}`);
}

async function main(): Promise<void> {
  const h = await Harness.start('screenshots', { installExtension: true });
  try {
    await demoWindow(h);
    await holderAndFollower(h);
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
