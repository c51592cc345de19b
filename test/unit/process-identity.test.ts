import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { isAlive, pidNamespace, processStart, selfRef } from '../../src/lock/process-identity';

describe('process identity', () => {
  it('gives this process a start time, and the same one twice', () => {
    const a = processStart(process.pid);
    assert.notEqual(a, null);
    assert.equal(processStart(process.pid), a);
  });

  it('tells a live process from an exited one', () => {
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    assert.equal(isAlive({ pid: Number(child.stdout), start: null }), false);
    assert.equal(isAlive(selfRef()), true);
  });

  it('does not trust a pid whose start time differs (a reused pid)', () => {
    assert.equal(isAlive({ pid: process.pid, start: 'some-other-start' }), false);
  });

  it('names this process\'s pid namespace by the inode of /proc/self/ns/pid (Linux)', { skip: process.platform !== 'linux' }, () => {
    const ns = pidNamespace();
    assert.match(ns ?? '', /^\d+$/);
    assert.equal(ns, String(fs.statSync('/proc/self/ns/pid').ino));
  });

  it('rejects nonsense pids without touching other processes', () => {
    for (const pid of [0, -1, 1.5, Number.NaN]) {
      assert.equal(processStart(pid), null);
    }
  });
});
