import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanup, ownPid, start, tempFolder } from '../support/fixtures';
import { pidAlive, waitFor } from '../support/wait';

// The gate that the CLI and the extension's `taskLock` task type start a guarded command behind (#7 item 5).

after(async () => {
  assert.deepEqual(await cleanup(), [], 'processes were left running');
});

const GATE = path.resolve(__dirname, '../../src/lock/gate.js');

/** A starter that spawns `sh -c 'echo ran > marker'` behind the gate, tells the pid, and opens the gate only when told to. */
function starter(marker: string, open: boolean): ReturnType<typeof start> {
  const script = `
    const { spawn } = require('node:child_process');
    const { gatedCommand, openGate } = require(${JSON.stringify(GATE)});
    const g = gatedCommand(['sh', '-c', 'echo ran > "$0"', ${JSON.stringify(marker)}]);
    const child = spawn(g.file, g.args, { stdio: ['ignore', 'ignore', 'ignore', 'pipe'], detached: true });
    console.log(child.pid);
    ${open ? 'openGate(child); child.on("close", (code) => console.log("closed " + code));' : 'setInterval(() => {}, 1000);'}
  `;
  return start(process.execPath, ['-e', script]);
}

describe('the gate', { skip: process.platform === 'win32' && 'no POSIX shell' }, () => {
  it('runs the command once it is opened, with the pid the starter saw', async () => {
    const marker = path.join(tempFolder(), 'marker');
    const s = starter(marker, true);
    await waitFor('the command to run and end', () => /closed 0/.test(s.out()));
    assert.equal(fs.readFileSync(marker, 'utf8'), 'ran\n');
    await s.result;
  });

  it('never runs the command when the starter dies before opening it (a SIGKILL between spawn and record)', async () => {
    const marker = path.join(tempFolder(), 'marker');
    const s = starter(marker, false);
    const pid = Number(await waitFor('the gated pid', () => /^(\d+)\n/.exec(s.out())?.[1]));
    ownPid(pid);
    s.kill('SIGKILL');
    await s.exited;
    // The gate's shell sees its pipe close and exits without running the command.
    await waitFor('the gate to close', () => !pidAlive(pid));
    assert.equal(fs.existsSync(marker), false, 'the command ran although its pid was never recorded');
  });
});
