import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { pidAlive, sleep, waitFor } from '../support/wait';
import { say, verbose } from './log';
import { tally } from './tally';

// The browser side: headless Chromium and one editor window (a page) in it, driven as a user would, through
// the command palette, and read where a user looks, the status bar and notifications. A window knows its
// page, its extension host's pid and a folder for its artifacts; it knows nothing of the server or the harness.

/** Flags from the issue's verified recipe; the rest keep a headless run quiet and offline. */
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-crash-reporter',
  '--disable-breakpad',
];

/**
 * The quick input's text box (the Command Palette's, Run Task's). Not `.quick-input-widget input`: in VS Code 1.90
 * the header's "Toggle all checkboxes" is an <input type=checkbox> that comes first and is hidden in a single-select
 * pick, so a wait for the first input to show timed out there (later versions draw that checkbox otherwise).
 */
const quickInputBox = '.quick-input-widget .quick-input-box input';

/** Starts headless Chromium with its profile folders under `dir`. */
export function launchChromium(executablePath: string, dir: string, env: NodeJS.ProcessEnv): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: chromiumArgs,
    timeout: 60_000,
    env: { ...env, XDG_CONFIG_HOME: path.join(dir, 'chromium-config'), XDG_CACHE_HOME: path.join(dir, 'chromium-cache') },
  });
}

export interface WindowOptions {
  /**
   * Absolute path of the workspace folder, usually from harness.workspace(fixture), or of a
   * `.code-workspace` file (a multi-root workspace).
   */
  folder: string;
  /** Absolute path of a compiled test module exporting run(); omitted for a plain window. */
  testModule?: string;
  /** extensionDevelopmentPath; defaults to the repo (the Task Lock extension). Pass null for none. */
  extensionPath?: string | null;
  viewport?: { width: number; height: number };
}

export interface WindowResult {
  window: number;
  exitCode: number;
  passed: number;
  failed: number;
  failures: string[];
  log: string[];
}

export class EditorWindow {
  /** The pid of this window's extension host on the server (set by whoever opened the window, once it is found). */
  extensionHostPid = 0;
  readonly log: string[] = [];
  private exit: Promise<number>;
  private resolveExit!: (code: number) => void;
  private reportedPid: number | undefined;
  private counts: { passed: number; failed: number; failures: string[] } | undefined;
  private smokeTestDriver: boolean | undefined;

  private constructor(
    readonly index: number,
    readonly context: BrowserContext,
    readonly page: Page,
    readonly options: WindowOptions,
    /** Where failure screenshots go. */
    private readonly artifactsDir: string,
  ) {
    this.exit = new Promise((resolve) => (this.resolveExit = resolve));
  }

  /**
   * Opens `url` in a new browser context (its own storage, like a separate browser profile window) and
   * wires the workbench's automation hooks to this window's log and result.
   */
  static async open(browser: Browser, index: number, url: string, options: WindowOptions, artifactsDir: string): Promise<EditorWindow> {
    const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 } });
    const page = await context.newPage();
    const win = new EditorWindow(index, context, page, options, artifactsDir);
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => win.onLog(type, Array.isArray(args) ? args : [args]));
    await page.exposeFunction('codeAutomationExit', (code: number) => win.onExit(code));
    page.on('pageerror', (err) => win.log.push(`pageerror: ${err.message}`));
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    return win;
  }

  /** The pid the test module printed, for windows whose extension host ended before it was seen. */
  get pidFromLog(): number | undefined {
    return this.reportedPid;
  }

  /**
   * Waits until the test module settles (the workbench calls codeAutomationExit) and returns the
   * exit code, the mocha counts the module printed and the window's log. Counts go to the run's tally.
   */
  async result(timeoutMs = 240_000): Promise<WindowResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<number>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`window ${this.index} did not finish its tests within ${timeoutMs / 1000} s; last log lines:\n${this.log.slice(-30).join('\n')}`));
      }, timeoutMs);
    });
    try {
      const exitCode = await Promise.race([this.exit, timeout]);
      const counts = this.counts ?? { passed: 0, failed: exitCode === 0 ? 0 : 1, failures: exitCode === 0 ? [] : ['the test module failed before mocha reported'] };
      tally.editorPassed += counts.passed;
      tally.editorFailed += counts.failed;
      const result: WindowResult = { window: this.index, exitCode, ...counts, log: [...this.log] };
      if (exitCode !== 0 || counts.failed > 0) {
        say(`window ${this.index} failed (exit ${exitCode}); its log:\n${this.log.map((l) => `    ${l}`).join('\n')}`);
      }
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs a command by its title from the command palette, as a user would. */
  async runCommand(title: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      // Fuzzy matching ranks other commands (e.g. "Restart Running Task") first at times: pick by exact title.
      const row = await this.paletteRow(title, title);
      try {
        await row.click({ timeout: 5_000 });
        return;
      } catch (err) {
        // The palette closes when something takes the focus (a task's terminal, a notification): open it again.
        if (Date.now() >= deadline) {
          throw err;
        }
        say(`window ${this.index}: the Command Palette closed before "${title}" was clicked; opening it again`);
      }
    }
  }

  /**
   * Opens the Command Palette, types `query` and waits for the row whose label starts with `label`. A palette opened
   * before the workbench has registered the extension lists none of its commands and does not update while open
   * (VS Code 1.90 right after a window opens, where the status bar is there before the extension): it is opened again
   * until the row shows, as a user would.
   */
  private async paletteRow(query: string, label: string, timeoutMs = 60_000): Promise<Locator> {
    const page = this.page;
    await page.waitForSelector('.statusbar', { timeout: 120_000 });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await page.keyboard.press('Escape');
      await page.keyboard.press('F1');
      await page.waitForSelector(quickInputBox, { state: 'visible', timeout: 30_000 });
      await page.keyboard.type(query);
      const row = page.locator(`.quick-input-list .monaco-list-row[aria-label^="${label}"]`).first();
      try {
        await row.waitFor({ state: 'visible', timeout: Math.max(1_000, Math.min(10_000, deadline - Date.now())) });
        return row;
      } catch (err) {
        if (Date.now() >= deadline) {
          throw err;
        }
        say(`window ${this.index}: "${label}" not in the Command Palette yet; opening it again`);
      }
    }
  }

  /**
   * In an open multi-select quick pick: ticks the rows whose labels start with `labels` (a click on a row toggles
   * its checkbox there), then accepts with Enter.
   */
  async pickMany(labels: string[]): Promise<void> {
    for (const label of labels) {
      const row = this.page.locator(`.quick-input-list .monaco-list-row[aria-label^="${label}"]`).first();
      await row.waitFor({ state: 'visible', timeout: 30_000 });
      await row.click();
    }
    await this.page.keyboard.press('Enter');
  }

  /**
   * The titles of the Command Palette's rows for `query`, once `anchor` (a title that is always listed for
   * it) shows: the list is complete then, so a missing title is really missing. Closes the palette.
   */
  async paletteTitles(query: string, anchor: string): Promise<string[]> {
    await this.paletteRow(query, anchor);
    const rows = await this.page.locator('.quick-input-list .monaco-list-row').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
    await this.page.keyboard.press('Escape');
    return rows;
  }


  /**
   * Runs a task from tasks.json through "Tasks: Run Task", as a user would. Right after a window
   * opens the task list can still be empty (the task system is not ready), so the pick is retried.
   */
  async runTask(label: string, attempts = 5): Promise<void> {
    const rows = this.page.locator('.quick-input-list .monaco-list-row');
    for (let attempt = 1; ; attempt++) {
      await this.runCommand('Tasks: Run Task');
      // A provider's task ("npm: watch") is listed under its provider's group ("All npm tasks").
      const provided = /^([\w-]+): (.+)$/.exec(label);
      const row = this.page.locator(`.quick-input-list .monaco-list-row[aria-label^="${label}"]`).first();
      try {
        if (provided) {
          const group = this.page.locator(`.quick-input-list .monaco-list-row[aria-label^="All ${provided[1]} tasks"]`).first();
          await group.waitFor({ state: 'visible', timeout: 15_000 });
          await group.click();
        }
        await row.waitFor({ state: 'visible', timeout: 15_000 });
        await row.click();
        return;
      } catch (err) {
        const seen = (await rows.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''))).join(' | ');
        if (attempt >= attempts) {
          const shot = path.join(this.artifactsDir, `window-${this.index}-runTask.png`);
          await this.page.screenshot({ path: shot }).catch(() => undefined);
          throw new Error(`window ${this.index}: no task "${label}" in the Run Task list after ${attempts} tries (rows: ${seen}; screenshot ${shot}): ${String(err)}`);
        }
        say(`window ${this.index}: task "${label}" not in the Run Task list yet (rows: ${seen || 'none'}); trying again`);
        await this.page.keyboard.press('Escape');
        // A retry, not a wait for a condition: give the task system a moment before the palette opens again.
        await sleep(2_000);
      }
    }
  }

  /**
   * Waits until the workbench shows that this window is in Restricted Mode (its Workspace Trust status bar
   * entry, `status.workspaceTrust`), with no modal dialog over it: a dialog would swallow the keys that
   * runCommand() types.
   */
  async waitForRestrictedMode(timeoutMs = 120_000): Promise<void> {
    try {
      await this.page.locator('[id="status.workspaceTrust"]').first().waitFor({ state: 'visible', timeout: timeoutMs });
    } catch (err) {
      const shot = path.join(this.artifactsDir, `window-${this.index}-restricted.png`);
      await this.page.screenshot({ path: shot }).catch(() => undefined);
      throw new Error(`window ${this.index} shows no Restricted Mode (screenshot ${shot}): ${String(err)}`);
    }
    const dialog = this.page.locator('.monaco-dialog-box');
    if ((await dialog.count()) > 0) {
      throw new Error(`window ${this.index} opened in Restricted Mode behind a dialog: ${(await dialog.first().textContent()) ?? ''}`);
    }
  }

  /** Whether the status bar shows the text now (the Task Lock item, e.g. "this window runs watch"). */
  async statusShows(pattern: RegExp): Promise<boolean> {
    return (await this.page.locator('.statusbar').getByText(pattern).count()) > 0;
  }

  /** Waits until the status bar shows the text and returns the item's text. */
  async waitForStatus(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    return visibleText(this.page.locator('.statusbar').getByText(pattern), timeoutMs);
  }

  /**
   * Waits until the text shows anywhere in the window (a notification, a message) and returns it. A workbench run
   * with the smoke-test driver (later versions need it for extension tests: see server.ts) shows no notification
   * toasts, only the notification center: there the center is opened first, where a user would look.
   */
  async waitForText(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    if (await this.withoutToasts()) {
      await this.showNotificationCenter();
    }
    return visibleText(this.page.getByText(pattern), timeoutMs);
  }

  /**
   * Clicks a notification's button (or any visible button) by its name. Where the workbench shows no toasts (the
   * smoke-test driver: see waitForText), or the toast has hidden meanwhile, a notification's buttons are in the
   * notification center: it is opened, as a user would look there.
   */
  async clickButton(name: string | RegExp, timeoutMs = 30_000): Promise<void> {
    const button = this.page.getByRole('button', { name, exact: typeof name === 'string' }).filter({ visible: true }).first();
    if (!(await this.withoutToasts())) {
      const clicked = await button.click({ timeout: 5_000 }).then(() => true, () => false);
      if (clicked) {
        return;
      }
    }
    await this.showNotificationCenter();
    await button.click({ timeout: timeoutMs });
  }

  /** Whether the workbench runs with the smoke-test driver (it sets `window.driver`), which suppresses toasts. */
  private async withoutToasts(): Promise<boolean> {
    this.smokeTestDriver ??= (await this.page.evaluate('"driver" in window')) === true;
    return this.smokeTestDriver;
  }

  private async showNotificationCenter(): Promise<void> {
    const center = this.page.locator('.notifications-center.visible');
    const deadline = Date.now() + 60_000;
    while ((await center.count()) === 0) {
      await this.runCommand('Notifications: Show Notifications');
      // Something else may have had the last word (a pick that closed it again): look, and try again if so.
      if (!(await center.waitFor({ state: 'visible', timeout: 5_000 }).then(() => true, () => false)) && Date.now() >= deadline) {
        throw new Error(`window ${this.index}: the notification center did not open`);
      }
    }
  }

  async screenshot(file: string): Promise<void> {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await this.page.screenshot({ path: file });
  }

  /** SIGKILLs this window's extension host, as a crashed or closed window would end it, and waits until it is gone. */
  async killExtensionHost(): Promise<void> {
    const pid = this.extensionHostPid;
    if (pid === 0 || !pidAlive(pid)) {
      return;
    }
    say(`SIGKILL extension host ${pid} of window ${this.index}`);
    process.kill(pid, 'SIGKILL');
    await waitFor(`extension host ${pid} to end after SIGKILL`, () => !pidAlive(pid), { timeoutMs: 30_000, everyMs: 100 });
  }

  /**
   * Closes the page as a user closes a browser tab, and nothing else: the server ends the window's extension host
   * in its own time, and its terminal host keeps the window's terminals (and tasks) for the reconnection grace.
   */
  async closePage(): Promise<void> {
    say(`closing the page of window ${this.index}`);
    await this.page.close({ runBeforeUnload: true });
  }

  /** Closes the page and ends its extension host (the server would keep it for its reconnection grace time). */
  async close(): Promise<void> {
    await this.context.close().catch(() => undefined);
    await this.killExtensionHost();
  }

  /** Wired to the page's codeAutomationLog. */
  private onLog(type: string, args: unknown[]): void {
    const text = args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
    const line = `${type}: ${text}`;
    this.log.push(line);
    if (verbose()) {
      process.stdout.write(`[window ${this.index}] ${line}\n`);
    }
    const pid = /\[task-lock-pid\] (\d+)/.exec(text);
    if (pid) {
      this.reportedPid = Number(pid[1]);
      // The test module runs in this window's extension host, so its own pid is authoritative.
      if (this.extensionHostPid !== 0 && this.extensionHostPid !== this.reportedPid) {
        say(`window ${this.index}: extension host is ${this.reportedPid}, not ${this.extensionHostPid} as first seen`);
        this.extensionHostPid = this.reportedPid;
      }
    }
    const result = /\[task-lock-result\] (\{.*\})/.exec(text);
    if (result) {
      this.counts = JSON.parse(result[1]) as { passed: number; failed: number; failures: string[] };
    }
  }

  /** Wired to the page's codeAutomationExit. */
  private onExit(code: number): void {
    this.resolveExit(code);
    // Desktop VS Code closes a test window when its tests end; a page left open here could start
    // another extension host later and be mistaken for a newer window's.
    setTimeout(() => {
      this.context.close().catch(() => undefined);
    }, 500);
  }
}

/**
 * The first visible match's text, once there is one. Not `.first()` alone: a version may keep a hidden copy of a text
 * first in the page (a stale toast, an old announcement), and a wait for that one to show never ends.
 */
async function visibleText(matches: ReturnType<Page['getByText']>, timeoutMs: number): Promise<string> {
  const loc = matches.filter({ visible: true }).first();
  await loc.waitFor({ state: 'visible', timeout: timeoutMs });
  return (await loc.textContent()) ?? '';
}
