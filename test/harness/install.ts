import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lockfile from 'proper-lockfile';
import { cacheRoot, chromiumPath, codeServerVersion } from './paths';
import { say } from './log';

export interface Installation {
  /** The Node entry of code-server (run it with the machine's Node 20). */
  codeServerEntry: string;
  chromium: string;
}

const codeServerDir = path.join(cacheRoot, `code-server-${codeServerVersion}`);
const marker = path.join(codeServerDir, '.complete');
const installLog = path.join(cacheRoot, 'install.log');

/**
 * Brings code-server and Chromium to this machine once; later calls only check the marker.
 * The registry's install scripts for code-server fetch binaries from the internet, so the
 * recipe here installs with --ignore-scripts and builds the native parts locally.
 */
export async function ensureInstalled(): Promise<Installation> {
  // Every step below logs into the cache folder, the apt step first of all: it must exist before anything runs.
  fs.mkdirSync(cacheRoot, { recursive: true });
  ensureGitignored();
  await ensureSystemPackages();
  if (!fs.existsSync(marker)) {
    // Two runs started at once (tests and demo) must not build into the same folder.
    const release = await lockfile.lock(cacheRoot, {
      lockfilePath: path.join(cacheRoot, 'install.lock'),
      stale: 30_000,
      update: 5_000,
      retries: { retries: 1_000, minTimeout: 1_000, maxTimeout: 1_000 },
    });
    try {
      if (!fs.existsSync(marker)) {
        await installCodeServer();
      }
    } finally {
      await release();
    }
  }
  return { codeServerEntry: codeServerEntry(), chromium: chromiumPath };
}

export function codeServerEntry(): string {
  return path.join(codeServerDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
}

function ensureGitignored(): void {
  const gitignore = path.join(cacheRoot, '..', '.gitignore');
  const text = fs.existsSync(gitignore) ? fs.readFileSync(gitignore, 'utf8') : '';
  if (!text.split(/\r?\n/).some((l) => l.trim() === '.vscode-test/' || l.trim() === '.vscode-test')) {
    fs.appendFileSync(gitignore, `${text.length > 0 && !text.endsWith('\n') ? '\n' : ''}.vscode-test/\n`);
  }
}

async function ensureSystemPackages(): Promise<void> {
  const wanted: string[] = [];
  if (!fs.existsSync(chromiumPath)) {
    wanted.push('chromium');
  }
  if (!fs.existsSync(marker)) {
    // Only the code-server build needs these: kerberos' headers, a ripgrep for the search service, a C++ toolchain.
    if (!fs.existsSync('/usr/include/krb5.h')) {
      wanted.push('libkrb5-dev');
    }
    if (!fs.existsSync('/usr/bin/rg')) {
      wanted.push('ripgrep');
    }
    if (!fs.existsSync('/usr/bin/make') || !fs.existsSync('/usr/bin/g++')) {
      wanted.push('build-essential');
    }
  }
  if (wanted.length === 0) {
    return;
  }
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !fs.existsSync('/usr/bin/apt-get')) {
    throw new Error(
      `The real-editor tests need these Debian packages: ${wanted.join(' ')}. ` +
        `Install them (apt-get install ${wanted.join(' ')}) or run as root on Debian so the harness can.`,
    );
  }
  say(`installing Debian packages: ${wanted.join(' ')} (apt-get, once)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-q'], '/', env);
  await run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...wanted], '/', env);
}

async function installCodeServer(): Promise<void> {
  const started = Date.now();
  say(`installing code-server ${codeServerVersion} into ${path.relative(process.cwd(), codeServerDir) || codeServerDir} (once; a few minutes; log: ${installLog})`);
  fs.rmSync(codeServerDir, { recursive: true, force: true });
  fs.mkdirSync(codeServerDir, { recursive: true });
  fs.writeFileSync(installLog, '');
  fs.writeFileSync(
    path.join(codeServerDir, 'package.json'),
    JSON.stringify({ name: 'task-lock-code-server-cache', private: true }, null, 2),
  );
  const env = npmEnv();
  const npmQuiet = ['--no-audit', '--no-fund', '--loglevel=error'];
  const pkg = path.join(codeServerDir, 'node_modules', 'code-server');
  const vscodeDir = path.join(pkg, 'lib', 'vscode');

  await step('1/6 code-server package', () =>
    run('npm', ['install', '--ignore-scripts', ...npmQuiet, `code-server@${codeServerVersion}`], codeServerDir, env));
  await step('2/6 VS Code server dependencies', () =>
    run('npm', ['install', '--omit=dev', '--ignore-scripts', ...npmQuiet], vscodeDir, env));
  await step('3/6 native modules (node-pty, spdlog, watchdog, deviceid, kerberos; about a minute)', async () => {
    // node-pty's last install step calls `npx node-gyp` for compile_commands.json, which fails offline
    // after pty.node is built; judge the step by the built binaries instead of npm's exit code.
    await run('npm', ['rebuild', 'node-pty', '@vscode/spdlog', 'native-watchdog', '@vscode/deviceid', 'kerberos'], vscodeDir, env, true);
    for (const binary of [
      'node-pty/build/Release/pty.node',
      '@vscode/spdlog/build/Release/spdlog.node',
      'native-watchdog/build/Release/watchdog.node',
      'kerberos/build/Release/kerberos.node',
    ]) {
      if (!fs.existsSync(path.join(vscodeDir, 'node_modules', binary))) {
        throw new Error(`native module not built: ${binary} (see ${installLog})`);
      }
    }
  });
  await step('4/6 ripgrep from Debian', () => {
    // @vscode/ripgrep downloads its binary from GitHub; Debian's rg is the same program.
    const bin = path.join(vscodeDir, 'node_modules', '@vscode', 'ripgrep', 'bin');
    fs.mkdirSync(bin, { recursive: true });
    fs.copyFileSync('/usr/bin/rg', path.join(bin, 'rg'));
    fs.chmodSync(path.join(bin, 'rg'), 0o755);
    return Promise.resolve();
  });
  await step('5/6 built-in extensions dependencies and argon2', async () => {
    await run('npm', ['install', '--omit=dev', '--ignore-scripts', ...npmQuiet], path.join(vscodeDir, 'extensions'), env);
    // npm hoists argon2 to the cache's top-level node_modules.
    await run('npm', ['rebuild', 'argon2'], codeServerDir, env);
  });
  await step('6/6 links made by code-server postinstall.sh', () => {
    symlink('node_modules', path.join(vscodeDir, 'node_modules.asar'));
    symlink('code-linux.sh', path.join(vscodeDir, 'bin', 'remote-cli', 'code-server'));
    symlink('browser-linux.sh', path.join(vscodeDir, 'bin', 'helpers', 'browser.sh'));
    return Promise.resolve();
  });
  const version = await capture(process.execPath, [codeServerEntry(), '--version'], codeServerDir);
  if (!version.includes(codeServerVersion)) {
    throw new Error(`code-server --version printed "${version.trim()}", expected ${codeServerVersion}`);
  }
  fs.writeFileSync(marker, JSON.stringify({ version: version.trim(), installedAt: new Date().toISOString() }) + '\n');
  say(`code-server ready: ${version.trim().split('\n').pop() ?? ''} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Keep the outer npm run's settings (e.g. its prefix or script shell) out of the nested installs.
  for (const key of Object.keys(env)) {
    if (key.startsWith('npm_') && key !== 'npm_config_nodedir' && key !== 'npm_config_cache') {
      delete env[key];
    }
  }
  // node-gyp would download Node headers; use the ones installed with Node when they exist.
  if (env.npm_config_nodedir === undefined && fs.existsSync('/usr/include/node/node.h')) {
    env.npm_config_nodedir = '/usr';
  }
  return env;
}

async function step(title: string, body: () => Promise<void>): Promise<void> {
  const started = Date.now();
  say(`  ${title} ...`);
  await body();
  say(`  ${title}: done (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

function symlink(target: string, at: string): void {
  fs.rmSync(at, { recursive: true, force: true });
  fs.symlinkSync(target, at);
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, tolerateFailure = false): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.appendFileSync(installLog, `\n$ (cd ${cwd} && ${cmd} ${args.join(' ')})\n`);
    const out = fs.openSync(installLog, 'a');
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', out, out] });
    child.on('error', (err) => {
      fs.closeSync(out);
      reject(err);
    });
    child.on('close', (code, signal) => {
      fs.closeSync(out);
      if (code === 0 || tolerateFailure) {
        resolve();
      } else {
        const tail = fs.readFileSync(installLog, 'utf8').split('\n').slice(-25).join('\n');
        reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${String(code)}`}) in ${cwd}; last lines of ${installLog}:\n${tail}`));
      }
    });
  });
}

function capture(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // --version would otherwise write a default config into the user's home.
    const env = { ...process.env, XDG_CONFIG_HOME: path.join(cacheRoot, 'config') };
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(text));
  });
}
