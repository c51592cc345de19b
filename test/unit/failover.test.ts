import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HolderRecord, LockState } from '../../src/lock';
import { DEFAULT_SETTINGS } from '../../src/model/settings';
import { Failover } from '../../src/tasks/failover';
import { waitFor } from '../support/wait';

// A follower's look at an orphan (a holder gone while its tasks run on): when the grace counts from.

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

function orphanState(sinceMs: number): LockState {
  const rec: HolderRecord = { version: 1, token: 'tok', kind: 'vscode', label: 'window A', pid: 1, start: 's', hostname: 'h', since: new Date().toISOString(), socket: null, lockId: 'l', tasks: [{ name: 'watch', pid: 2, start: 's2' }] };
  return { state: 'held', holder: { record: rec, sameHost: true, heartbeatAgeMs: 0, orphanedSinceMs: sinceMs } };
}

describe('failover: an orphan', () => {
  const settings = { ...DEFAULT_SETTINGS, tasks: ['watch'], orphanGraceSeconds: 30 };

  it('first seen long after its last heartbeat: still waits the whole grace (a Reload Window gets its time)', () => {
    const f = new Failover(quiet);
    let looked = false;
    const d = f.observe(orphanState(Date.now() - 60_000), 'changed', settings, true, () => (looked = true));
    f.forget();
    assert.deepEqual(d, { action: 'nothing' });
    assert.equal(looked, false);
  });

  it('a heartbeat dated far ahead (touch -d): the grace still ends, and the timer does not spin', async () => {
    const f = new Failover(quiet);
    const s = orphanState(Date.now() + 30 * 86_400_000);
    const fast = { ...settings, orphanGraceSeconds: 0.1 };
    let looks = 0;
    let last: ReturnType<Failover['observe']> = { action: 'nothing' };
    // As the guard does: each look observes again.
    const look = (): void => {
      looks++;
      last = f.observe(s, 'timer', fast, true, look);
    };
    f.observe(s, 'changed', fast, true, look);
    // Until the grace (0.1 s) is over, however long the machine takes: a spin shows as many looks, not as time.
    await waitFor('the grace to end', () => last.action === 'take-orphan', { timeoutMs: 5_000 });
    f.forget();
    assert.ok(looks <= 3, `looked ${looks} times for a grace of 0.1 s: a spin`);
    assert.deepEqual(last, { action: 'take-orphan', token: 'tok' });
  });

  it('once the grace has passed since this window first saw it: move it here', async () => {
    const f = new Failover(quiet);
    const s = orphanState(Date.now() - 60_000);
    f.observe(s, 'changed', { ...settings, orphanGraceSeconds: 0.05 }, true, () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 80));
    const d = f.observe(s, 'timer', { ...settings, orphanGraceSeconds: 0.05 }, true, () => undefined);
    f.forget();
    assert.deepEqual(d, { action: 'take-orphan', token: 'tok' });
  });
});

// A window whose lock was taken away (reclaim --force) or removed underneath (a tool cleaning the lock home): it stops
// its tasks and says so; taking the lock back by itself a moment later ran them again behind the user's back (seen in
// the real editor: 'the holder stops its task' passed only when it looked in the gap before the restart).
describe('failover: a window that lost its lock underneath', () => {
  const settings = { ...DEFAULT_SETTINGS, tasks: ['watch'] };
  // A forced reclaim's record: its writer (the reclaiming process) is the holder, the tasks still stopping its tasks.
  function record(pid: number, token: string, start = 's'): HolderRecord {
    const holder = token === 'forced' ? 7_777 : pid;
    return { version: 1, token, kind: 'vscode', label: 'window', pid: holder, start, hostname: 'h', since: new Date().toISOString(), socket: null, lockId: 'l', tasks: [{ name: 'watch', pid, start }] };
  }
  const held = (pid: number, token: string, start = 's', orphanedSinceMs?: number): LockState => ({ state: 'held', holder: { record: record(pid, token, start), sameHost: true, heartbeatAgeMs: 0, orphanedSinceMs } });
  const stale = (pid: number, token: string): LockState => ({ state: 'stale', holder: { record: record(pid, token), sameHost: true, heartbeatAgeMs: 0 }, reason: 'gone', cause: { kind: 'holder-exited', pid, tasks: 1 } });

  it('takes nothing back: not while its stopping task keeps the lock, not once that lock is stale', () => {
    const f = new Failover(quiet);
    f.lost([{ pid: 4242, start: 's' }]);
    // The forced reclaim's record lists the task being stopped.
    assert.deepEqual(f.observe(held(4242, 'forced'), 'holder-compromised', settings, true, () => undefined), { action: 'nothing' });
    assert.deepEqual(f.observe(stale(4242, 'forced'), 'changed', settings, true, () => undefined), { action: 'stay-quiet', why: 'lost-here' });
    assert.deepEqual(f.observe(stale(4242, 'forced'), 'timer', settings, true, () => undefined), { action: 'stay-quiet', why: 'lost-here' });
    f.forget();
  });

  it('follows again once another holder has held the lock: that one dying fails over here', () => {
    const f = new Failover(quiet);
    f.lost([{ pid: 4242, start: 's' }]);
    assert.deepEqual(f.observe(held(999_999_99, 'other'), 'changed', settings, true, () => undefined), { action: 'nothing' });
    assert.deepEqual(f.observe(stale(999_999_99, 'other'), 'changed', settings, true, () => undefined), { action: 'take', start: true });
    f.forget();
  });

  it('holding the lock again (the user started the tasks) ends it: a later loss of that holder is judged anew', () => {
    const f = new Failover(quiet);
    f.lost([{ pid: 4242, start: 's' }]);
    f.held();
    assert.deepEqual(f.observe(stale(4242, 'forced'), 'changed', settings, true, () => undefined), { action: 'take', start: true });
    f.forget();
  });

  it('a task it stops that outlives the stop (an orphan of the forced record) is not moved here: that would run it again', async () => {
    const f = new Failover(quiet);
    f.lost([{ pid: 4242, start: 's' }]);
    const fast = { ...settings, orphanGraceSeconds: 0.01 };
    f.observe(held(4242, 'forced', 's', Date.now() - 60_000), 'changed', fast, true, () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(f.observe(held(4242, 'forced', 's', Date.now() - 60_000), 'timer', fast, true, () => undefined), { action: 'nothing' });
    f.forget();
  });

  it('a holder whose pid is a reused one of its stopped tasks (another start time) is another holder: followed', () => {
    const f = new Failover(quiet);
    f.lost([{ pid: 4242, start: 's' }]);
    assert.deepEqual(f.observe(held(4242, 'other', 'later'), 'changed', settings, true, () => undefined), { action: 'nothing' });
    assert.deepEqual(f.observe(stale(4242, 'other'), 'changed', settings, true, () => undefined), { action: 'take', start: true });
    f.forget();
  });
});
