import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';
import { ensureInstalled, type Installation } from './install';
import { stopAll, sweepRun } from './harness';
import { say } from './log';
import { compiledVscodeTests } from './paths';
import { describeProcess } from './procs';
import { tally } from './tally';

// `npm run test:vscode`: host-side suites in out/test/vscode/host drive real editor windows.
// Optional arguments filter the suite files by name.

async function main(): Promise<number> {
  const started = Date.now();
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      interrupted = true;
      say(`${sig}: stopping everything the harness started`);
      void stopAll().finally(() => {
        sweepRun();
        process.exit(130);
      });
    });
  }

  let install: Installation;
  try {
    install = await ensureInstalled();
  } catch (err) {
    say(`install failed: ${err instanceof Error ? err.message : String(err)}`);
    console.log('vscode: 0 passed, 1 failed');
    return 1;
  }

  const on = `code-server ${install.codeServerVersion} (VS Code ${install.vscodeVersion}, Node ${install.nodeVersion})`;
  say(`real-editor suites on ${on}`);
  const hostDir = path.join(compiledVscodeTests, 'host');
  const filters = process.argv.slice(2);
  const files = fs
    .readdirSync(hostDir)
    .filter((f) => f.endsWith('.host.js'))
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
    .sort();
  // HARNESS_GREP runs only the tests whose full title matches (for one story while working on it).
  const grep = process.env.HARNESS_GREP;
  const mocha = new Mocha({ ui: 'bdd', timeout: 300_000, reporter: 'spec', color: process.stdout.isTTY, ...(grep ? { grep } : {}) });
  for (const f of files) {
    mocha.addFile(path.join(hostDir, f));
  }

  let hostPassed = 0;
  let hostFailed = 0;
  const summaries: string[] = [];
  await new Promise<void>((resolve) => {
    const runner = mocha.run(() => resolve());
    const perSuite = new Map<Mocha.Suite, { started: number; passed: number; failed: number; editorPassed: number; editorFailed: number }>();
    const topOf = (s: Mocha.Suite | undefined): Mocha.Suite | undefined => {
      let cur = s;
      while (cur?.parent !== undefined && !cur.parent.root) {
        cur = cur.parent;
      }
      return cur;
    };
    runner.on('suite', (s) => {
      if (s.parent?.root === true) {
        perSuite.set(s, { started: Date.now(), passed: 0, failed: 0, editorPassed: tally.editorPassed, editorFailed: tally.editorFailed });
      }
    });
    runner.on('pass', (t) => {
      hostPassed++;
      const s = perSuite.get(topOf(t.parent) as Mocha.Suite);
      if (s) {
        s.passed++;
      }
    });
    runner.on('fail', (t) => {
      hostFailed++;
      const s = perSuite.get(topOf(t.parent) as Mocha.Suite);
      if (s) {
        s.failed++;
      }
    });
    runner.on('suite end', (s) => {
      const st = perSuite.get(s);
      if (st) {
        const ep = tally.editorPassed - st.editorPassed;
        const ef = tally.editorFailed - st.editorFailed;
        summaries.push(
          `suite "${s.title}": ${st.failed + ef === 0 ? 'ok' : 'FAILED'} - host ${st.passed} passed ${st.failed} failed, ` +
            `in editor ${ep} passed ${ef} failed, ${((Date.now() - st.started) / 1000).toFixed(1)} s`,
        );
      }
    });
  });

  await stopAll();
  const left = sweepRun();
  if (left.length > 0) {
    hostFailed++;
    say(`processes left behind by the suites (now killed):\n${left.map(describeProcess).join('\n')}`);
  }
  if (interrupted) {
    return 130;
  }
  console.log('');
  for (const line of summaries) {
    console.log(line);
  }
  say(`real-editor suites on ${on} took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const passed = hostPassed + tally.editorPassed;
  const failed = hostFailed + tally.editorFailed;
  console.log(`vscode: ${passed} passed, ${failed} failed`);
  return failed > 0 || files.length === 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    sweepRun();
    console.log('vscode: 0 passed, 1 failed');
    process.exit(1);
  },
);
