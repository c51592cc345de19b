import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { writeReservation } from '../../src/lock/handoff';
import { folderHash, locate } from '../../src/lock/location';
import { writeRecord, type HolderRecord } from '../../src/lock/record';
import { cleanup, tempFolder } from '../support/fixtures';

// #7 item 1: a link planted in the lock home (committed in a cloned repository, or by another user) must never
// make a write land outside it.

after(cleanup);

const record: HolderRecord = {
  version: 1,
  token: 'a'.repeat(32),
  kind: 'cli',
  label: 'x',
  pid: process.pid,
  start: null,
  hostname: 'h',
  since: new Date().toISOString(),
  socket: null,
  lockId: '1:2:3',
  tasks: [],
};

describe('writes in the lock home never follow a link', () => {
  it('a dangling .gitignore link: making the lock home creates nothing at its target', () => {
    const folder = tempFolder();
    const outside = path.join(tempFolder(), 'created-by-task-lock');
    // The lock directory chosen inside the folder, as a repository's settings may choose it.
    const lockDirectory = path.join(folder, '.vscode', 'task-lock');
    const home = path.join(lockDirectory, `${path.basename(folder)}-${folderHash(folder)}`);
    fs.mkdirSync(home, { recursive: true });
    fs.symlinkSync(outside, path.join(home, '.gitignore'));
    assert.equal(locate(folder, { lockDirectory }).home, home, 'the test plants the link in the home that is used');
    assert.equal(fs.existsSync(outside), false);
  });

  it('a link where the record\'s temporary file goes: the target keeps its content', () => {
    const home = tempFolder();
    const victim = path.join(tempFolder(), 'secret');
    fs.writeFileSync(victim, 'untouched', { mode: 0o600 });
    const recordPath = path.join(home, 'holder.json');
    // The old temporary name was predictable: the token's first 8 characters and the pid.
    fs.symlinkSync(victim, `${recordPath}.${record.token.slice(0, 8)}.${process.pid}.tmp`);
    writeRecord(recordPath, record);
    assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched');
    assert.equal(JSON.parse(fs.readFileSync(recordPath, 'utf8')).token, record.token);
  });

  it('a link where the reservation\'s temporary file goes: the target keeps its content', () => {
    const home = tempFolder();
    const victim = path.join(tempFolder(), 'secret');
    fs.writeFileSync(victim, 'untouched', { mode: 0o600 });
    const reservationPath = path.join(home, 'handoff.json');
    fs.symlinkSync(victim, `${reservationPath}.${process.pid}.tmp`);
    writeReservation(reservationPath, 'b'.repeat(32));
    assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched');
    assert.equal(JSON.parse(fs.readFileSync(reservationPath, 'utf8')).token, 'b'.repeat(32));
  });
});
