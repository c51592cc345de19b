// `npm run test:compat`: the real-editor suites on every VS Code the manifest claims, at both ends: the oldest
// (package.json's engines.vscode) and the newest code-server on npm. The harness installs each version into a
// cache folder of its own (.vscode-test/code-server-<version>) the first time.
//
//   npm run test:compat                      both versions, all suites
//   npm run test:compat -- 4.96.4 tasklock   other versions, or some suites (arguments that are not versions filter suite files)
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

// The oldest code-server whose VS Code is the one engines.vscode names (4.90.3 carries 1.90.2; no code-server
// carries 1.90.0, and a patch release adds no API), and the newest code-server on npm when this was last updated.
const OLDEST = '4.90.3';
const NEWEST = '4.139.1';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const args = process.argv.slice(2);
const isVersion = (a) => /^\d+\.\d+\.\d+$/.test(a);
const asked = args.filter(isVersion);
const versions = asked.length > 0 ? asked : [OLDEST, NEWEST];
const filters = args.filter((a) => !isVersion(a));

if (asked.length === 0) {
  noteNewerCodeServer();
}

const results = [];
let child;
let stopped;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    // The harness stops what it started on SIGTERM; then no further version starts (a cancelled run ends).
    stopped = sig;
    child?.kill('SIGTERM');
  });
}
for (const version of versions) {
  if (stopped !== undefined) {
    break;
  }
  console.log(`\n=== real-editor suites on code-server ${version} ===\n`);
  const started = Date.now();
  const { code, out } = await run(version);
  const counts = /^vscode: (\d+) passed, (\d+) failed$/m.exec(out);
  const on = /real-editor suites on (code-server \S+ \(VS Code \S+, Node \S+\))/.exec(out);
  results.push({
    version,
    on: on?.[1] ?? `code-server ${version}`,
    vscode: /VS Code (\d+\.\d+)\./.exec(on?.[1] ?? '')?.[1],
    passed: counts ? Number(counts[1]) : 0,
    // No count line: the run broke before counting (an install that failed says so above).
    failed: counts ? Number(counts[2]) : 1,
    code,
    seconds: (Date.now() - started) / 1000,
  });
}

if (stopped !== undefined) {
  console.log(`compat: stopped by ${stopped}`);
  process.exit(130);
}

const problems = [];
if (asked.length === 0) {
  // engines.vscode must never claim a VS Code older than the oldest one the suites passed on.
  const claimed = /(\d+)\.(\d+)/.exec(pkg.engines.vscode);
  const oldest = results[0];
  if (claimed === null) {
    problems.push(`package.json's engines.vscode "${pkg.engines.vscode}" names no version`);
  } else if (oldest.vscode === undefined) {
    // Not checked is not passed: the run printed no "real-editor suites on … (VS Code x.y.z" line to compare.
    problems.push(`could not tell which VS Code code-server ${oldest.version} carries (no "real-editor suites on" line), so engines.vscode was not checked`);
  } else if (oldest.vscode !== `${claimed[1]}.${claimed[2]}`) {
    problems.push(
      `package.json's engines.vscode is "${pkg.engines.vscode}", but the oldest version tested here is VS Code ${oldest.vscode} ` +
        `(code-server ${oldest.version}): set OLDEST in scripts/test-compat.mjs to the code-server that carries VS Code ` +
        `${claimed[1]}.${claimed[2]}, or engines.vscode to what was tested`,
    );
  }
}

console.log('');
for (const r of results) {
  const ok = r.code === 0 && r.failed === 0;
  console.log(`compat ${r.on}: ${ok ? 'ok' : 'FAILED'} - ${r.passed} passed, ${r.failed} failed, ${r.seconds.toFixed(0)} s (install included when it ran)`);
}
for (const p of problems) {
  console.log(`compat: ${p}`);
}
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0) + problems.length;
console.log(`compat: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || results.some((r) => r.code !== 0) ? 1 : 0);

function run(version) {
  return new Promise((resolve) => {
    child = spawn(process.execPath, ['out/test/harness/run.js', ...filters], {
      cwd: new URL('..', import.meta.url),
      env: { ...process.env, TASK_LOCK_CODE_SERVER: version },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), out }));
  });
}

/** Says so when npm has a code-server newer than NEWEST; a note, not a failure: a new upstream release must not break CI. */
function noteNewerCodeServer() {
  const r = spawnSync('npm', ['view', 'code-server', 'version'], { encoding: 'utf8', timeout: 30_000 });
  const latest = r.status === 0 ? r.stdout.trim() : '';
  if (!isVersion(latest)) {
    console.log(`note: could not ask npm for the newest code-server (${(r.stderr || r.error?.message || 'no answer').trim().split('\n')[0]}); testing ${NEWEST}`);
  } else if (latest !== NEWEST) {
    console.log(`note: npm's newest code-server is ${latest}, not ${NEWEST}: set NEWEST in scripts/test-compat.mjs to test it`);
  }
}
