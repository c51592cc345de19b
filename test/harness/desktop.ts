import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';
import { editorTestModule, fixturesRoot, repoRoot } from './paths';
import { say } from './log';

// `npm run test:desktop`: the single-window suites in desktop VS Code through @vscode/test-electron.
// Needs a VS Code: TASK_LOCK_VSCODE_EXECUTABLE, or a download (internet). Offline, use `npm run test:vscode`.

async function main(): Promise<number> {
  let executable = process.env.TASK_LOCK_VSCODE_EXECUTABLE;
  if (executable === undefined || executable === '') {
    const version = process.env.TASK_LOCK_VSCODE_VERSION ?? 'stable';
    say(`no TASK_LOCK_VSCODE_EXECUTABLE: downloading VS Code ${version} into .vscode-test/ ...`);
    try {
      executable = await downloadAndUnzipVSCode({ version, cachePath: path.join(repoRoot, '.vscode-test'), timeout: 30_000 });
    } catch (err) {
      say(`could not download VS Code (${err instanceof Error ? err.message : String(err)}).`);
      say('This machine seems to be offline. Either set TASK_LOCK_VSCODE_EXECUTABLE to a desktop VS Code binary');
      say('(e.g. /usr/share/code/code) or run `npm run test:vscode`, which runs the same suites in code-server offline.');
      return 2;
    }
  } else if (!fs.existsSync(executable)) {
    say(`TASK_LOCK_VSCODE_EXECUTABLE=${executable} does not exist`);
    return 2;
  }
  if (process.platform === 'linux' && (process.env.DISPLAY ?? '') === '' && (process.env.WAYLAND_DISPLAY ?? '') === '') {
    say('note: no DISPLAY; desktop VS Code needs one on Linux (run under xvfb-run -a npm run test:desktop)');
  }
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'task-lock-desktop-'));
  fs.cpSync(path.join(fixturesRoot, 'basic'), workspace, { recursive: true });
  try {
    await runTests({
      vscodeExecutablePath: executable,
      extensionDevelopmentPath: repoRoot,
      extensionTestsPath: editorTestModule('single/index.js'),
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes', '--user-data-dir', path.join(workspace, '.user-data')],
    });
    console.log('desktop: single-window suites passed');
    return 0;
  } catch (err) {
    say(`desktop VS Code tests failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    fs.rmSync(workspace, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
