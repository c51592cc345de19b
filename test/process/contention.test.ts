import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { WorkspaceLock } from '../../src/lock';
import { Result, cleanup, start, tempFolder } from '../support/fixtures';
import { sleep, waitFor } from '../support/wait';

const CONTENDER = path.resolve(__dirname, '../support/contender.js');

after(async () => {
  assert.deepEqual(await cleanup(), [], 'processes were left running');
});

function contender(folder: string, marks: string, rounds: number, holdMs: number, stopFile = '') {
  return start(process.execPath, [CONTENDER, folder, marks, String(rounds), String(holdMs), stopFile]);
}

/** Walks the marks: every enter must follow the previous holder's exit, or its death by our SIGKILL. */
function checkMarks(text: string, killed: Set<number>): { enters: number } {
  let inside: number | undefined;
  let enters = 0;
  for (const line of text.trim().split('\n')) {
    const [what, pidText] = line.split(' ');
    const pid = Number(pidText);
    assert.notEqual(what, 'VIOLATION', line);
    if (what === 'enter') {
      assert.ok(inside === undefined || killed.has(inside), `${pid} entered while ${inside} was inside`);
      inside = pid;
      enters++;
    } else {
      assert.equal(inside, pid, `${pid} left without being inside`);
      inside = undefined;
    }
  }
  return { enters };
}

describe('many processes, one lock', () => {
  it('8 processes over many rounds never overlap', async () => {
    const folder = tempFolder();
    const marks = path.join(tempFolder(), 'marks');
    fs.writeFileSync(marks, '');
    const rounds = 25;
    const procs = Array.from({ length: 8 }, () => contender(folder, marks, rounds, 3));
    const results: Result[] = await Promise.all(procs.map((p) => p.result));
    for (const r of results) {
      assert.equal(r.code, 0, r.stderr);
    }
    const { enters } = checkMarks(fs.readFileSync(marks, 'utf8'), new Set());
    assert.equal(enters, 8 * rounds);
    assert.equal(new WorkspaceLock(folder).inspect().state, 'free');
  });

  it('recovers when holders die by SIGKILL, and still never lets two in at once', async () => {
    const folder = tempFolder();
    const scratch = tempFolder();
    const marks = path.join(scratch, 'marks');
    const stop = path.join(scratch, 'stop');
    fs.writeFileSync(marks, '');
    const procs = new Set(Array.from({ length: 8 }, () => contender(folder, marks, 100_000, 20, stop)));
    const killed = new Set<number>();
    for (let k = 0; k < 8; k++) {
      // Kill whoever is inside right now, then bring in a fresh contender.
      const victim = await waitFor('a holder inside', () => {
        const lines = fs.readFileSync(marks, 'utf8').trim().split('\n');
        const last = lines[lines.length - 1]?.split(' ');
        return last?.[0] === 'enter' && !killed.has(Number(last[1])) ? Number(last[1]) : undefined;
      });
      const proc = [...procs].find((p) => p.pid === victim);
      assert.ok(proc, `holder ${victim} is one of ours`);
      killed.add(victim);
      proc.kill('SIGKILL');
      procs.delete(proc);
      await proc.result;
      procs.add(contender(folder, marks, 100_000, 20, stop));
      await sleep(30 + Math.random() * 60);
    }
    const entersAtLastKill = fs.readFileSync(marks, 'utf8').split('\n').filter((l) => l.startsWith('enter')).length;
    await waitFor('rounds after the last kill', () => fs.readFileSync(marks, 'utf8').split('\n').filter((l) => l.startsWith('enter')).length >= entersAtLastKill + 20, { timeoutMs: 20_000 });
    fs.writeFileSync(stop, '');
    for (const p of procs) {
      const r = await p.result;
      assert.equal(r.code, 0, r.stderr);
    }
    checkMarks(fs.readFileSync(marks, 'utf8'), killed);
    // The last holders released normally: the lock is free again, with no record left.
    assert.equal(new WorkspaceLock(folder).inspect().state, 'free');
  });
});
