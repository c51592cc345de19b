import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

/**
 * Runs mocha test files inside the extension host of the window that loaded the test module.
 * The harness reads the pid and result lines from the window's log; the thrown error makes
 * the workbench report a non-zero exit code.
 */
export async function runMochaIn(dir: string, timeoutMs = 120_000): Promise<void> {
  console.log(`[task-lock-pid] ${process.pid}`);
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: timeoutMs, reporter: 'spec' });
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort()) {
    mocha.addFile(path.join(dir, file));
  }
  let passed = 0;
  const failures: string[] = [];
  await new Promise<void>((resolve) => {
    const runner = mocha.run(() => resolve());
    runner.on('pass', () => passed++);
    runner.on('fail', (test, err: Error) => failures.push(`${test.fullTitle()}: ${err.message}`));
  });
  console.log(`[task-lock-result] ${JSON.stringify({ passed, failed: failures.length, failures })}`);
  if (failures.length > 0) {
    throw new Error(`${failures.length} test(s) failed in the editor`);
  }
}
