import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { waitFor } from '../../../support/wait';
import { slowWindow, workspaceFolder } from '../util';

describe('two windows on one folder', () => {
  it('each has its own extension host and sees the file the other one wrote', async () => {
    // Each window writes a file named after its extension host's pid and waits for a file from
    // the other window: the test passes in both only when both processes run and share the disk.
    const dir = path.join(workspaceFolder(), '.harness-windows');
    fs.mkdirSync(dir, { recursive: true });
    const mine = `${process.pid}.json`;
    // Written whole, then renamed into place: the other window reads it the moment its name appears.
    fs.writeFileSync(path.join(dir, `${mine}.tmp`), JSON.stringify({ pid: process.pid, at: Date.now() }));
    fs.renameSync(path.join(dir, `${mine}.tmp`), path.join(dir, mine));
    const other = await waitFor('the other window to write its file', () => fs.readdirSync(dir).find((f) => f !== mine && f.endsWith('.json')), slowWindow);
    const otherPid = (JSON.parse(fs.readFileSync(path.join(dir, other), 'utf8')) as { pid: number }).pid;
    assert.notStrictEqual(otherPid, process.pid);
    // Stay until the other window has seen this one's file too, so neither window's end races the other's read.
    fs.writeFileSync(path.join(dir, `${process.pid}.saw-${otherPid}`), '');
    await waitFor('the other window to see this one', () => fs.existsSync(path.join(dir, `${otherPid}.saw-${process.pid}`)), slowWindow);
  });
});
