import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureInstalled, type Installation } from './install';
import { say, verbose } from './log';
import { fixturesRoot, repoRoot } from './paths';
import { pidAlive, sleep, waitFor } from '../support/wait';
import {
  describeProcess,
  killAll,
  markedProcesses,
  markerVariable,
  type ProcessInfo,
  type ProcessKind,
} from './procs';
import { tally } from './tally';

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

/** Settings for every window: no welcome page, no gallery or update checks that would reach the internet. */
const userSettings = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'security.workspace.trust.enabled': false,
  'task.allowAutomaticTasks': 'off',
  'git.enabled': false,
};

const runId = `${process.pid}-${Date.now().toString(36)}`;
let harnessCount = 0;
const active = new Set<Harness>();

/** The marker prefix shared by every process of this Node process' harnesses. */
export function runMarker(): string {
  return runId;
}

export interface HarnessOptions {
  /** A fixed port (the demo's); by default a free loopback port. */
  port?: number;
  /**
   * Installs the built extension (package.json, dist/, media/) into the server's extensions folder,
   * so every window has it without an extensionDevelopmentPath (what a user of the demo sees).
   */
  installExtension?: boolean;
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
  /** The pid of this window's extension host on the server (found when the window opened). */
  extensionHostPid = 0;
  readonly log: string[] = [];
  private exit: Promise<number>;
  private resolveExit!: (code: number) => void;
  private reportedPid: number | undefined;
  private counts: { passed: number; failed: number; failures: string[] } | undefined;

  constructor(
    readonly harness: Harness,
    readonly index: number,
    readonly context: BrowserContext,
    readonly page: Page,
    readonly options: WindowOptions,
  ) {
    this.exit = new Promise((resolve) => (this.resolveExit = resolve));
  }

  /** @internal wired to the page's codeAutomationLog. */
  onLog(type: string, args: unknown[]): void {
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

  /** @internal wired to the page's codeAutomationExit. */
  onExit(code: number): void {
    this.resolveExit(code);
    // Desktop VS Code closes a test window when its tests end; a page left open here could start
    // another extension host later and be mistaken for a newer window's.
    setTimeout(() => {
      this.context.close().catch(() => undefined);
    }, 500);
  }

  /** @internal the pid the test module printed, for windows whose extension host ended before it was seen. */
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
    const page = this.page;
    await page.waitForSelector('.statusbar', { timeout: 120_000 });
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    await page.waitForSelector('.quick-input-widget input', { state: 'visible', timeout: 30_000 });
    await page.keyboard.type(title);
    // Fuzzy matching ranks other commands (e.g. "Restart Running Task") first at times: pick by exact title.
    const row = page.locator(`.quick-input-list .monaco-list-row[aria-label^="${title}"]`).first();
    await row.waitFor({ state: 'visible', timeout: 30_000 });
    await row.click();
  }

  /**
   * Runs a task from tasks.json through "Tasks: Run Task", as a user would. Right after a window
   * opens the task list can still be empty (the task system is not ready), so the pick is retried.
   */
  async runTask(label: string, attempts = 5): Promise<void> {
    const rows = this.page.locator('.quick-input-list .monaco-list-row');
    for (let attempt = 1; ; attempt++) {
      await this.runCommand('Tasks: Run Task');
      const row = this.page.locator(`.quick-input-list .monaco-list-row[aria-label^="${label}"]`).first();
      try {
        await row.waitFor({ state: 'visible', timeout: 15_000 });
        await row.click();
        return;
      } catch (err) {
        const seen = (await rows.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''))).join(' | ');
        if (attempt >= attempts) {
          const shot = path.join(this.harness.tempDir, `window-${this.index}-runTask.png`);
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

  async screenshot(file: string): Promise<void> {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await this.page.screenshot({ path: file });
  }

  /** SIGKILLs this window's extension host, as a crashed or closed window would end it, and waits until it is gone. */
  async killExtensionHost(): Promise<void> {
    await this.harness.killExtensionHost(this);
  }

  /** Closes the page and ends its extension host (the server would keep it for its reconnection grace time). */
  async close(): Promise<void> {
    await this.context.close().catch(() => undefined);
    await this.killExtensionHost();
  }
}

export class Harness {
  private server: ChildProcess | undefined;
  private browser: Browser | undefined;
  private windows: EditorWindow[] = [];
  private workspaces = 0;
  private opening: Promise<unknown> = Promise.resolve();
  private stopped = false;
  readonly marker: string;
  readonly tempDir: string;
  readonly serverLog: string;
  port = 0;

  private constructor(readonly install: Installation, readonly name: string, private readonly options: HarnessOptions) {
    this.marker = `${runId}-${++harnessCount}`;
    this.tempDir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'task-lock-harness-')));
    this.serverLog = path.join(this.tempDir, 'server.log');
  }

  /** Installs what is missing (once), then starts a code-server on a free loopback port. */
  static async start(name = 'suite', options: HarnessOptions = {}): Promise<Harness> {
    const install = await ensureInstalled();
    const h = new Harness(install, name, options);
    active.add(h);
    try {
      await h.startServer();
    } catch (err) {
      await h.stop().catch(() => undefined);
      throw err;
    }
    return h;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** Copies test/fixtures/<fixture> to a fresh temp folder and returns its absolute path. */
  workspace(fixture: string): string {
    const source = path.join(fixturesRoot, fixture);
    if (!fs.existsSync(source)) {
      throw new Error(`no fixture ${source}`);
    }
    const target = path.join(this.tempDir, 'workspaces', `${fixture}-${++this.workspaces}`);
    fs.cpSync(source, target, { recursive: true });
    return target;
  }

  /** The URL that opens a window on the folder, with the extension and test module if given. */
  windowUrl(options: WindowOptions): string {
    const remote = (p: string): string => `vscode-remote://127.0.0.1:${this.port}${p}`;
    const payload: [string, string][] = [];
    const extensionPath = options.extensionPath === undefined ? repoRoot : options.extensionPath;
    if (extensionPath !== null) {
      payload.push(['extensionDevelopmentPath', remote(extensionPath)]);
    }
    if (options.testModule !== undefined) {
      payload.push(['extensionTestsPath', remote(options.testModule)]);
    }
    const query = `${options.folder.endsWith('.code-workspace') ? 'workspace' : 'folder'}=${encodeURIComponent(options.folder)}`;
    return payload.length > 0 ? `${this.url}?${query}&payload=${encodeURIComponent(JSON.stringify(payload))}` : `${this.url}?${query}`;
  }

  /**
   * Opens a window (a Chromium page) and waits until its extension host process exists.
   * Windows open one after another so each new extension host belongs to exactly one window.
   */
  openWindow(options: WindowOptions): Promise<EditorWindow> {
    const next = this.opening.then(() => this.doOpenWindow(options));
    this.opening = next.catch(() => undefined);
    return next;
  }

  async openWindows(count: number, options: WindowOptions): Promise<EditorWindow[]> {
    const list: EditorWindow[] = [];
    for (let i = 0; i < count; i++) {
      list.push(await this.openWindow(options));
    }
    return list;
  }

  /** Opens `count` windows that run the test module on one folder and waits for all their results. */
  async runWindows(count: number, options: WindowOptions & { testModule: string }, timeoutMs?: number): Promise<WindowResult[]> {
    const list = await this.openWindows(count, options);
    return Promise.all(list.map((w) => w.result(timeoutMs)));
  }

  /** Live processes this harness started (server, its children, Chromium, tasks), optionally of one kind. */
  processes(kind?: ProcessKind): ProcessInfo[] {
    const list = markedProcesses(this.marker);
    return kind === undefined ? list : list.filter((p) => p.kind === kind);
  }

  countProcesses(kind?: ProcessKind): number {
    return this.processes(kind).length;
  }

  extensionHostPids(): number[] {
    return this.processes('extensionHost').map((p) => p.pid);
  }

  async killExtensionHost(win: EditorWindow): Promise<void> {
    const pid = win.extensionHostPid;
    if (pid === 0 || !pidAlive(pid)) {
      return;
    }
    say(`SIGKILL extension host ${pid} of window ${win.index}`);
    process.kill(pid, 'SIGKILL');
    await waitFor(`extension host ${pid} to end after SIGKILL`, () => !pidAlive(pid), { timeoutMs: 30_000, everyMs: 100 });
  }

  /**
   * Stops everything this harness started: Chromium, the server, extension hosts, ptyHost and the
   * processes of tasks and terminals. Throws when a process survives, so a leak fails the suite.
   */
  async stop(): Promise<void> {
    if (this.stopped) {
      return;
    }
    this.stopped = true;
    active.delete(this);
    if (this.browser !== undefined) {
      await withTimeout(this.browser.close(), 15_000).catch(() => undefined);
    }
    const server = this.server;
    if (server?.pid !== undefined && server.exitCode === null && server.signalCode === null) {
      try {
        process.kill(-server.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
      // A server slow to exit is not an error here: what is still running is killed just below.
      await waitFor('code-server to exit after SIGTERM', () => server.exitCode !== null || server.signalCode !== null, { timeoutMs: 5_000, everyMs: 100 }).catch(() => undefined);
    }
    // Extension hosts stay for the reconnection grace time and task processes live under the
    // ptyHost in their own sessions: the marker finds them all, wherever they were reparented.
    const survivors = this.processes();
    if (survivors.length > 0) {
      const kinds = survivors.map((p) => p.kind).join(', ');
      say(`${this.name}: killing ${survivors.length} process(es) still running after shutdown: ${kinds}`);
      killAll(survivors.map((p) => p.pid));
      // The check below names whatever survives, which says more than a timeout would.
      await waitFor('the killed processes to end', () => this.processes().length === 0, { timeoutMs: 10_000, everyMs: 100 }).catch(() => undefined);
    }
    const left = this.processes();
    if (left.length > 0) {
      throw new Error(`${this.name}: processes left behind after stop:\n${left.map(describeProcess).join('\n')}`);
    }
    if (process.env.TASK_LOCK_HARNESS_KEEP !== '1') {
      fs.rmSync(this.tempDir, { recursive: true, force: true });
    } else {
      say(`kept ${this.tempDir}`);
    }
  }

  /** The last lines the server printed, for failure messages. */
  serverLogTail(lines = 40): string {
    try {
      return fs.readFileSync(this.serverLog, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  private environment(extra: Record<string, string>): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Variables of an outer VS Code or npm run would leak into the server and the tasks it runs.
    for (const key of Object.keys(env)) {
      if (key.startsWith('VSCODE_') || key.startsWith('ELECTRON_') || key.startsWith('npm_')) {
        delete env[key];
      }
    }
    return { ...env, [markerVariable]: this.marker, ...extra };
  }

  private async startServer(): Promise<void> {
    const userData = path.join(this.tempDir, 'user-data');
    const extensions = path.join(this.tempDir, 'extensions');
    fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
    fs.mkdirSync(extensions, { recursive: true });
    fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify(userSettings, null, 2));
    if (this.options.installExtension === true) {
      installBuiltExtension(extensions);
    }
    const config = path.join(this.tempDir, 'config.yaml');
    fs.writeFileSync(config, 'auth: none\ncert: false\n');
    for (let attempt = 1; ; attempt++) {
      this.port = this.options.port ?? (await freePort());
      const started = Date.now();
      const out = fs.openSync(this.serverLog, 'a');
      const child = spawn(
        process.execPath,
        [
          this.install.codeServerEntry,
          '--auth', 'none',
          '--bind-addr', `127.0.0.1:${this.port}`,
          '--disable-telemetry',
          '--disable-update-check',
          '--disable-workspace-trust',
          '--ignore-last-opened',
          '--user-data-dir', userData,
          '--extensions-dir', extensions,
          '--config', config,
        ],
        {
          // Its own process group, so one signal reaches the server and the children it forks.
          detached: true,
          stdio: ['ignore', out, out],
          env: this.environment({ XDG_CONFIG_HOME: path.join(this.tempDir, 'xdg-config'), XDG_DATA_HOME: path.join(this.tempDir, 'xdg-data') }),
        },
      );
      fs.closeSync(out);
      this.server = child;
      // Either outcome ends the wait: the server answers /healthz, or it exited (a port taken meanwhile is retried below).
      const ready = await waitFor(`code-server on port ${this.port} to answer /healthz`, async () => child.exitCode !== null || (await healthy(this.port)), { timeoutMs: 60_000, everyMs: 200 }).then(
        () => child.exitCode === null,
        () => false,
      );
      if (ready) {
        say(`${this.name}: code-server on ${this.url} (pid ${child.pid ?? '?'}, ${Date.now() - started} ms)`);
        return;
      }
      const tail = this.serverLogTail();
      if (child.exitCode === null) {
        try {
          process.kill(-(child.pid ?? 0), 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      if (attempt >= 3 || this.options.port !== undefined || !/EADDRINUSE/.test(tail)) {
        throw new Error(`code-server did not start on port ${this.port}; server log:\n${tail}`);
      }
    }
  }

  private async ensureBrowser(): Promise<Browser> {
    if (this.browser === undefined) {
      this.browser = await chromium.launch({
        executablePath: this.install.chromium,
        headless: true,
        args: chromiumArgs,
        timeout: 60_000,
        env: this.environment({ XDG_CONFIG_HOME: path.join(this.tempDir, 'chromium-config'), XDG_CACHE_HOME: path.join(this.tempDir, 'chromium-cache') }),
      });
    }
    return this.browser;
  }

  private async doOpenWindow(options: WindowOptions): Promise<EditorWindow> {
    if (this.stopped) {
      throw new Error('harness stopped');
    }
    const browser = await this.ensureBrowser();
    const known = new Set([...this.extensionHostPids(), ...this.windows.map((w) => w.extensionHostPid)]);
    // A context per window: its own storage, like a separate browser profile window.
    const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 } });
    const page = await context.newPage();
    const win = new EditorWindow(this, this.windows.length + 1, context, page, options);
    this.windows.push(win);
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => win.onLog(type, Array.isArray(args) ? args : [args]));
    await page.exposeFunction('codeAutomationExit', (code: number) => win.onExit(code));
    page.on('pageerror', (err) => win.log.push(`pageerror: ${err.message}`));
    await page.goto(this.windowUrl(options), { waitUntil: 'domcontentloaded', timeout: 60_000 });
    try {
      win.extensionHostPid = await waitFor(
        `window ${win.index}'s extension host to start`,
        // A test module that finished very fast may have ended its extension host already: it printed its pid.
        () => this.extensionHostPids().find((pid) => !known.has(pid)) ?? win.pidFromLog,
        { timeoutMs: 120_000, everyMs: 50 },
      );
    } catch (err) {
      throw new Error(`${err instanceof Error ? err.message : String(err)}; server log:\n${this.serverLogTail()}\nwindow log:\n${win.log.slice(-20).join('\n')}`);
    }
    say(`${this.name}: window ${win.index} open on ${path.basename(options.folder)}, extension host pid ${win.extensionHostPid}`);
    return win;
  }
}

/** Stops every harness still running (Ctrl+C, a crashed runner). */
export async function stopAll(): Promise<void> {
  for (const h of [...active]) {
    await h.stop().catch((err: unknown) => say(String(err)));
  }
}

/** Kills any process this Node process' harnesses started that is still alive; returns what it found. */
export function sweepRun(): ProcessInfo[] {
  const left = markedProcesses(runId);
  if (left.length > 0) {
    killAll(left.map((p) => p.pid));
  }
  return left;
}

function installBuiltExtension(extensionsDir: string): void {
  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string; main?: string };
  const main = path.join(repoRoot, manifest.main ?? 'dist/extension.js');
  if (!fs.existsSync(main)) {
    throw new Error(`${main} does not exist: run npm run build first`);
  }
  const target = path.join(extensionsDir, `${manifest.publisher}.${manifest.name}-${manifest.version}`);
  fs.mkdirSync(target, { recursive: true });
  for (const item of ['package.json', 'dist', 'media', 'README.md', 'LICENSE', 'CHANGELOG.md']) {
    const source = path.join(repoRoot, item);
    if (fs.existsSync(source)) {
      fs.cpSync(source, path.join(target, item), { recursive: true });
    }
  }
  // The extension's runtime dependencies are bundled into dist/ by esbuild, so no node_modules is copied.
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]);
}
