import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { HolderRecord, MAX_RECORD_BYTES, parseRecord, readRecord, removeRecordIfOwned, writeRecord } from '../../src/lock/record';
import { cleanup, tempFolder } from '../support/fixtures';

after(cleanup);

function sample(over: Partial<HolderRecord> = {}): HolderRecord {
  return {
    version: 1,
    token: 'a'.repeat(32),
    kind: 'cli',
    label: 'npm run watch',
    pid: 1234,
    start: 'boot:5678',
    hostname: 'host',
    since: '2026-11-26T10:00:00.000Z',
    socket: '/run/user/1000/task-lock/0123456789abcdef.sock',
    lockId: '1:2:3',
    tasks: [{ name: 'watch', pid: 4321, start: 'boot:9999' }],
    ...over,
  };
}

describe('holder record', () => {
  it('round-trips through an atomic write, leaving no temp file', () => {
    const dir = tempFolder();
    const file = path.join(dir, 'holder.json');
    writeRecord(file, sample());
    assert.deepEqual(readRecord(file), { kind: 'ok', record: sample() });
    assert.deepEqual(fs.readdirSync(dir), ['holder.json']);
  });

  it('reads a record with a pid namespace, and an older one without it', () => {
    assert.equal(parseRecord(JSON.stringify(sample({ pidNamespace: '4026531836' }))).kind, 'ok');
    assert.equal(parseRecord(JSON.stringify(sample({ pidNamespace: null }))).kind, 'ok');
    assert.equal(parseRecord(JSON.stringify(sample())).kind, 'ok');
  });

  it('reports a missing record as none', () => {
    assert.deepEqual(readRecord(path.join(tempFolder(), 'holder.json')), { kind: 'none' });
  });

  const bad: Array<[string, string]> = [
    ['not JSON', '{"version":1,'],
    ['an array', '[]'],
    ['a foreign version', JSON.stringify({ ...sample(), version: 2 })],
    ['a negative pid', JSON.stringify({ ...sample(), pid: -1 })],
    ['a fractional pid', JSON.stringify({ ...sample(), pid: 1.5 })],
    ['an unknown kind', JSON.stringify({ ...sample(), kind: 'daemon' })],
    ['a bad date', JSON.stringify({ ...sample(), since: 'yesterday' })],
    ['a task without pid', JSON.stringify({ ...sample(), tasks: [{ name: 'x', start: null }] })],
    ['too many tasks', JSON.stringify({ ...sample(), tasks: Array.from({ length: 65 }, (_, i) => ({ name: 't', pid: i + 1, start: null })) })],
    ['a huge label', JSON.stringify({ ...sample(), label: 'x'.repeat(5000) })],
    ['a channel that is some other socket', JSON.stringify({ ...sample(), socket: '/var/run/docker.sock' })],
    ['a pid namespace that is not a number', JSON.stringify({ ...sample(), pidNamespace: 'pid:[x]' })],
  ];
  for (const [what, text] of bad) {
    it(`treats ${what} as corrupt, with a reason`, () => {
      const r = parseRecord(text);
      assert.equal(r.kind, 'corrupt');
      assert.match((r as { reason: string }).reason, /holder record/);
    });
  }

  it('refuses a record larger than the cap without reading it whole', () => {
    const file = path.join(tempFolder(), 'holder.json');
    fs.writeFileSync(file, ' '.repeat(MAX_RECORD_BYTES + 10));
    const r = readRecord(file);
    assert.equal(r.kind, 'corrupt');
    assert.match((r as { reason: string }).reason, /larger than/);
  });

  it('reports an unreadable record (a directory in its place) as corrupt, not as a crash', () => {
    const dir = tempFolder();
    fs.mkdirSync(path.join(dir, 'holder.json'));
    assert.equal(readRecord(path.join(dir, 'holder.json')).kind, 'corrupt');
  });

  it('removes only its own record', () => {
    const file = path.join(tempFolder(), 'holder.json');
    writeRecord(file, sample({ token: 'b'.repeat(32) }));
    removeRecordIfOwned(file, 'a'.repeat(32));
    assert.equal(readRecord(file).kind, 'ok');
    removeRecordIfOwned(file, 'b'.repeat(32));
    assert.equal(readRecord(file).kind, 'none');
  });
});
