import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { waitFor } from '../support/wait';
import { say } from './log';
import { repoRoot } from './paths';
import type { WindowOptions } from './window';

// One code-server: started on a free loopback port with its own user data and extensions, checked through
// /healthz, stopped with its whole process group. It knows nothing of browsers or windows beyond their URL.

/** Settings for every window: no welcome page, no gallery or update checks that would reach the internet. */
const userSettings: Record<string, unknown> = {
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

/**
 * Workspace Trust on, and no folder trusted: every window opens in Restricted Mode. `startupPrompt: never` is
 * the documented equivalent of answering the startup dialog ("Do you trust the authors…?") with "No, I don't
 * trust the authors": no modal dialog to click away, whatever its words or layout in a later version.
 */
const untrustedSettings: Record<string, unknown> = {
  'security.workspace.trust.enabled': true,
  'security.workspace.trust.startupPrompt': 'never',
};

/** How the server treats Workspace Trust: off (every folder trusted, the default) or on with no folder trusted. */
export type WorkspaceTrust = 'disabled' | 'untrusted';

export interface ServerOptions {
  /** Names the server in log lines. */
  name: string;
  /** The code-server entry script (from the installation). */
  entry: string;
  /** The Node that runs it (from the installation: this machine's, or the one its version wants). */
  node: string;
  /** A folder of its own: user data, extensions, config and `server.log` go there. */
  dir: string;
  /** The environment of the server and everything it starts (the harness' marker is in it). */
  env: NodeJS.ProcessEnv;
  /** A fixed port (the demo's); by default a free loopback port. */
  port?: number;
  /**
   * Installs the built extension (package.json, dist/, media/) into the server's extensions folder,
   * so every window has it without an extensionDevelopmentPath (what a user of the demo sees).
   */
  installExtension?: boolean;
  /** `disabled` (the default): `--disable-workspace-trust`. `untrusted`: every window opens in Restricted Mode. */
  workspaceTrust?: WorkspaceTrust;
}

export class CodeServer {
  /** The server's output, for failure messages. */
  readonly logFile: string;
  /** The user's settings.json of every window: the editor applies changes to it live. */
  readonly userSettingsFile: string;
  port = 0;
  private child: ChildProcess | undefined;

  private constructor(private readonly options: ServerOptions) {
    this.logFile = path.join(options.dir, 'server.log');
    this.userSettingsFile = path.join(options.dir, 'user-data', 'User', 'settings.json');
  }

  /** Starts a server and resolves once it answers /healthz; a port taken meanwhile is retried on another. */
  static async start(options: ServerOptions): Promise<CodeServer> {
    const server = new CodeServer(options);
    await server.launch();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
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

  /** Whether the server answers its health check now. */
  healthy(): Promise<boolean> {
    return healthy(this.port);
  }

  /** The last lines the server printed, for failure messages. */
  logTail(lines = 40): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /**
   * SIGTERMs the server's process group and waits a little for it to exit. Extension hosts stay for their
   * reconnection grace time and tasks live in sessions of their own: the harness ends those by its marker.
   */
  async stop(): Promise<void> {
    const child = this.child;
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
      return;
    }
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
    // A server slow to exit is not an error here: the harness kills whatever is still running.
    await waitFor('code-server to exit after SIGTERM', () => child.exitCode !== null || child.signalCode !== null, { timeoutMs: 5_000, everyMs: 100 }).catch(() => undefined);
  }

  private get configFile(): string {
    return path.join(this.options.dir, 'config.yaml');
  }

  /** This server's folders, for the server and for its CLI alike. */
  private folderArgs(): string[] {
    const dir = this.options.dir;
    return ['--user-data-dir', path.join(dir, 'user-data'), '--extensions-dir', path.join(dir, 'extensions'), '--config', this.configFile];
  }

  private environment(): NodeJS.ProcessEnv {
    const dir = this.options.dir;
    return {
      ...this.options.env,
      XDG_CONFIG_HOME: path.join(dir, 'xdg-config'),
      XDG_DATA_HOME: path.join(dir, 'xdg-data'),
      // Later VS Code (1.139's web workbench) ignores a URL's extensionDevelopmentPath and extensionTestsPath in a
      // built product unless the server runs with enable-smoke-test-driver. code-server passes VS Code options on
      // from VSCODE_OPTIONS (4.139); older versions, which honour the URL anyway, ignore the variable.
      VSCODE_OPTIONS: '--enable-smoke-test-driver',
    };
  }

  /**
   * Installs a .vsix while the server runs, as a user's `code-server --install-extension` does: the server sees its
   * extensions change and open windows add the extension to their running extension host, without a reload.
   */
  async installVsix(vsix: string): Promise<void> {
    const r = await run(this.options.node, [this.options.entry, ...this.folderArgs(), '--install-extension', vsix], this.environment());
    if (r.code !== 0) {
      throw new Error(`code-server --install-extension ${vsix} failed (${r.code}):\n${r.output}`);
    }
  }

  private async launch(): Promise<void> {
    const dir = this.options.dir;
    const userData = path.join(dir, 'user-data');
    const extensions = path.join(dir, 'extensions');
    fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
    fs.mkdirSync(extensions, { recursive: true });
    const untrusted = this.options.workspaceTrust === 'untrusted';
    fs.writeFileSync(this.userSettingsFile, JSON.stringify({ ...userSettings, ...(untrusted ? untrustedSettings : {}) }, null, 2));
    if (this.options.installExtension === true) {
      installBuiltExtension(extensions);
    }
    fs.writeFileSync(this.configFile, 'auth: none\ncert: false\n');
    for (let attempt = 1; ; attempt++) {
      this.port = this.options.port ?? (await freePort());
      const started = Date.now();
      const out = fs.openSync(this.logFile, 'a');
      const child = spawn(
        this.options.node,
        [
          this.options.entry,
          '--auth', 'none',
          '--bind-addr', `127.0.0.1:${this.port}`,
          '--disable-telemetry',
          '--disable-update-check',
          ...(untrusted ? [] : ['--disable-workspace-trust']),
          '--ignore-last-opened',
          ...this.folderArgs(),
        ],
        {
          // Its own process group, so one signal reaches the server and the children it forks.
          detached: true,
          stdio: ['ignore', out, out],
          env: this.environment(),
        },
      );
      fs.closeSync(out);
      this.child = child;
      // Either outcome ends the wait: the server answers /healthz, or it exited (a port taken meanwhile is retried below).
      const ready = await waitFor(`code-server on port ${this.port} to answer /healthz`, async () => child.exitCode !== null || (await healthy(this.port)), { timeoutMs: 60_000, everyMs: 200 }).then(
        () => child.exitCode === null,
        () => false,
      );
      if (ready) {
        say(`${this.options.name}: code-server on ${this.url} (pid ${child.pid ?? '?'}, ${Date.now() - started} ms)`);
        return;
      }
      const tail = this.logTail();
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

/** Runs a command to its end: its exit code (or signal) and its output. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | string; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err) => resolve({ code: err.message, output }));
    child.on('close', (code, signal) => resolve({ code: code ?? signal ?? '?', output }));
  });
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
