import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import { waitFor } from '../support/wait';
import { removeLockHomes } from '../support/fixtures';
import { ensureInstalled, type Installation } from './install';
import { say } from './log';
import { fixturesRoot, repoRoot } from './paths';
import { describeProcess, killAll, markedProcesses, markerVariable, type ProcessInfo, type ProcessKind } from './procs';
import { CodeServer, type WorkspaceTrust } from './server';
import { EditorWindow, launchChromium, type WindowOptions, type WindowResult } from './window';

// A suite's harness: one code-server (server.ts), one Chromium with its windows (window.ts), fixture copies,
// and the processes all of them started, found by a marker in their environment and ended at stop().

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
  /**
   * `disabled` (the default): Workspace Trust off, every folder trusted. `untrusted`: Workspace Trust on and no
   * folder trusted, so every window opens in Restricted Mode; openWindow() waits until the window shows it.
   */
  workspaceTrust?: WorkspaceTrust;
}

export class Harness {
  private server: CodeServer | undefined;
  private browser: Browser | undefined;
  private windows: EditorWindow[] = [];
  private workspaces = 0;
  private opening: Promise<unknown> = Promise.resolve();
  private stopped = false;
  readonly marker: string;
  readonly tempDir: string;

  private constructor(
    readonly install: Installation,
    readonly name: string,
    readonly workspaceTrust: WorkspaceTrust,
  ) {
    this.marker = `${runId}-${++harnessCount}`;
    this.tempDir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'task-lock-harness-')));
  }

  /** Installs what is missing (once), then starts a code-server on a free loopback port. */
  static async start(name = 'suite', options: HarnessOptions = {}): Promise<Harness> {
    const install = await ensureInstalled();
    const h = new Harness(install, name, options.workspaceTrust ?? 'disabled');
    active.add(h);
    try {
      h.server = await CodeServer.start({
        name,
        entry: install.codeServerEntry,
        node: install.node,
        dir: h.tempDir,
        env: h.environment(),
        port: options.port,
        installExtension: options.installExtension,
        workspaceTrust: h.workspaceTrust,
      });
    } catch (err) {
      await h.stop().catch(() => undefined);
      throw err;
    }
    return h;
  }

  private get running(): CodeServer {
    if (this.server === undefined) {
      throw new Error(`${this.name}: no code-server running`);
    }
    return this.server;
  }

  get url(): string {
    return this.running.url;
  }

  get port(): number {
    return this.running.port;
  }

  /** The server's log file. */
  get serverLog(): string {
    return this.running.logFile;
  }

  /**
   * Adds `values` to the user's settings.json of this server's windows; `undefined` removes a setting. Windows
   * opened afterwards read it; an open window may not notice (code-server did not apply such a change live).
   */
  updateUserSettings(values: Record<string, unknown>): void {
    const file = this.running.userSettingsFile;
    const settings = { ...(JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>), ...values };
    fs.writeFileSync(file, JSON.stringify(settings, null, 2));
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
    return this.running.windowUrl(options);
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

  /**
   * Installs the built extension (dist/ as it is, packaged into a .vsix) while windows are open, as a user's
   * `code-server --install-extension` would: each open window adds it to its running extension host and activates
   * it there, late, after whatever ran at the window's startup (a folder-open task, its events long past).
   */
  async installExtensionNow(): Promise<void> {
    const vsix = path.join(this.tempDir, 'task-lock.vsix');
    const packaged = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'package.mjs'), '--out', vsix], { encoding: 'utf8' });
    if (packaged.status !== 0) {
      throw new Error(`packaging the extension failed (${packaged.status ?? packaged.signal}):\n${packaged.stdout}${packaged.stderr}`);
    }
    await this.running.installVsix(vsix);
  }

  /** The same as win.killExtensionHost(). */
  async killExtensionHost(win: EditorWindow): Promise<void> {
    await win.killExtensionHost();
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
    await this.server?.stop();
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
      // The windows' lock homes live in the user's cache, outside the temporary folder.
      removeLockHomes(path.join(this.tempDir, 'workspaces'), 2);
      fs.rmSync(this.tempDir, { recursive: true, force: true });
    } else {
      say(`kept ${this.tempDir}`);
    }
  }

  /** The last lines the server printed, for failure messages. */
  serverLogTail(lines = 40): string {
    return this.server?.logTail(lines) ?? '';
  }

  /** The environment of everything this harness starts: clean of an outer editor's variables, with the marker. */
  private environment(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Variables of an outer VS Code or npm run would leak into the server and the tasks it runs.
    for (const key of Object.keys(env)) {
      if (key.startsWith('VSCODE_') || key.startsWith('ELECTRON_') || key.startsWith('npm_')) {
        delete env[key];
      }
    }
    return { ...env, [markerVariable]: this.marker };
  }

  private async ensureBrowser(): Promise<Browser> {
    if (this.browser === undefined) {
      this.browser = await launchChromium(this.install.chromium, this.tempDir, this.environment());
    }
    return this.browser;
  }

  private async doOpenWindow(options: WindowOptions): Promise<EditorWindow> {
    if (this.stopped) {
      throw new Error('harness stopped');
    }
    const browser = await this.ensureBrowser();
    const known = new Set([...this.extensionHostPids(), ...this.windows.map((w) => w.extensionHostPid)]);
    const win = await EditorWindow.open(browser, this.windows.length + 1, this.running.windowUrl(options), options, this.tempDir);
    this.windows.push(win);
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
    if (this.workspaceTrust === 'untrusted') {
      await win.waitForRestrictedMode();
    }
    say(`${this.name}: window ${win.index} open on ${path.basename(options.folder)}, extension host pid ${win.extensionHostPid}${this.workspaceTrust === 'untrusted' ? ', in Restricted Mode' : ''}`);
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

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]);
}
