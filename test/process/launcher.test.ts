import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { launchers } from '../../src/cli/launcher';
import { CLI, cleanup, start, tempFolder } from '../support/fixtures';

after(async () => {
  assert.deepEqual(await cleanup(), [], 'processes were left running');
});

describe('the launcher the extension puts on PATH (#11 item 3)', { skip: process.platform === 'win32' && 'the .cmd launcher is for Windows' }, () => {
  it('runs the bundled CLI with the given runtime, whatever quotes and spaces the paths hold', async () => {
    const dir = path.join(tempFolder(), "it's a dir with spaces");
    fs.mkdirSync(dir);
    const cli = path.join(dir, 'cli.js');
    fs.copyFileSync(CLI, cli);
    const bin = path.join(dir, 'task-lock');
    fs.writeFileSync(bin, launchers(process.execPath, cli).posix, { mode: 0o755 });
    const r = await start(bin, ['--version']).result;
    assert.equal(r.code, 0, r.stderr);
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string };
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it('keeps ELECTRON_RUN_AS_NODE, which makes the editor\'s runtime a Node, away from the command it runs', async () => {
    const dir = tempFolder();
    const cli = path.join(dir, 'cli.js');
    fs.copyFileSync(CLI, cli);
    const bin = path.join(dir, 'task-lock');
    fs.writeFileSync(bin, launchers(process.execPath, cli).posix, { mode: 0o755 });
    const r = await start(bin, ['run', '--folder', tempFolder(), '--', 'sh', '-c', 'echo "[${ELECTRON_RUN_AS_NODE-unset}] [${TASK_LOCK_LAUNCHER-unset}]"']).result;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '[unset] [unset]\n');
  });
});
