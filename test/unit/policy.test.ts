import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HolderRecord, LockState, ProcessRef } from '../../src/lock';
import { EXIT_GRACE_MS, EXIT_RECHECK_MS, afterGuardChange, atStartup, holderIsDead, onLockFree, onOrphan, onTaskStart, readoptCandidate, stopsEarlyCopies, type FreeInput, type OrphanInput } from '../../src/model/policy';

// The guard's decisions as tables: each row is one situation and the one answer the guard must act on.

function record(over: Partial<HolderRecord> = {}): HolderRecord {
  return { version: 1, token: 't', kind: 'vscode', label: 'Code — app', pid: 100, start: 's100', hostname: 'box', since: '2026-11-28T10:00:00.000Z', socket: null, lockId: 'l', tasks: [], ...over };
}

const held = (r: HolderRecord, sameHost = true): LockState => ({ state: 'held', holder: { record: r, sameHost, heartbeatAgeMs: 0 } });
const unknownHolder: LockState = { state: 'held', holder: { unknownReason: 'no holder record', sameHost: false, heartbeatAgeMs: 0 } };
const free: LockState = { state: 'free' };
const stale = (r: HolderRecord): LockState => ({ state: 'stale', holder: { record: r, sameHost: true, heartbeatAgeMs: 0 }, reason: 'holder pid 100 has exited', cause: { kind: 'holder-exited', pid: r.pid, tasks: r.tasks.length } });
const error: LockState = { state: 'error', message: 'Cannot read the lock' };
/** Alive: the pids listed. */
const aliveOnly = (...pids: number[]) => (ref: ProcessRef): boolean => pids.includes(ref.pid);

describe('policy: the lock became free or stale in a follower', () => {
  const base: FreeInput = { state: 'free', cause: 'changed', previous: { kind: 'vscode', alive: false }, failover: true, autoStart: true, trusted: true, freeForMs: 0, lostHere: false };
  const rows: Array<[string, Partial<FreeInput>, ReturnType<typeof onLockFree>]> = [
    ['no holder seen before, lock free: nothing to take over', { previous: undefined }, { action: 'nothing' }],
    ['no holder seen before, lock stale: fail over', { previous: undefined, state: 'stale' }, { action: 'take', start: true }],
    ['a window died (its process is gone): fail over and start', {}, { action: 'take', start: true }],
    ['a window died, autoStart off: take the lock, start nothing', { autoStart: false }, { action: 'take', start: false }],
    ['a task-lock run ended (CLI alive or not): fail over', { previous: { kind: 'cli', alive: true } }, { action: 'take', start: true }],
    ['failover off: stay quiet', { failover: false }, { action: 'stay-quiet', why: 'failover-off' }],
    ['this window lost its lock underneath (reclaim --force, a removed lock home), then stale: take nothing back', { previous: undefined, state: 'stale', lostHere: true }, { action: 'stay-quiet', why: 'lost-here' }],
    ['… also when the lock its stopped tasks kept ends as a dead holder', { lostHere: true }, { action: 'stay-quiet', why: 'lost-here' }],
    ['… failover off says so first', { lostHere: true, failover: false }, { action: 'stay-quiet', why: 'failover-off' }],
    ['untrusted workspace: stay quiet', { trusted: false }, { action: 'stay-quiet', why: 'untrusted' }],
    ['failover off wins over untrusted', { failover: false, trusted: false }, { action: 'stay-quiet', why: 'failover-off' }],
    ['a live window said goodbye (released): start nothing', { previous: { kind: 'vscode', alive: true }, cause: 'holder-released' }, { action: 'released' }],
    ['a live window handed over to someone else: start nothing', { previous: { kind: 'vscode', alive: true }, cause: 'holder-handoff' }, { action: 'released' }],
    ['a live window, no goodbye yet: look again shortly', { previous: { kind: 'vscode', alive: true } }, { action: 'look-again', afterMs: EXIT_RECHECK_MS }],
    ['a live window, no goodbye, still alive after the grace: a release', { previous: { kind: 'vscode', alive: true }, freeForMs: EXIT_GRACE_MS + 1 }, { action: 'released' }],
    ['a live window but the lock is stale: fail over', { previous: { kind: 'vscode', alive: true }, state: 'stale' }, { action: 'take', start: true }],
  ];
  for (const [name, over, want] of rows) {
    it(name, () => assert.deepEqual(onLockFree({ ...base, ...over }), want));
  }
});

describe('policy: the holder is gone while its tasks run on (an orphan)', () => {
  const base: OrphanInput = { kind: 'vscode', orphanedForMs: 0, graceMs: 30_000, failover: true, trusted: true };
  const rows: Array<[string, Partial<OrphanInput>, ReturnType<typeof onOrphan>]> = [
    ['a window just went: look again when the grace is over (Reload Window re-adopts meanwhile)', { orphanedForMs: 10_000 }, { action: 'look-again', afterMs: 20_000 }],
    ['a window went longer than the grace ago: move its tasks here', { orphanedForMs: 30_000 }, { action: 'take-orphan' }],
    ['grace 0: at once', { graceMs: 0 }, { action: 'take-orphan' }],
    ['a task-lock run whose CLI was killed: never by itself', { kind: 'cli', orphanedForMs: 3_600_000 }, { action: 'nothing' }],
    ['failover off: nothing', { failover: false, orphanedForMs: 60_000 }, { action: 'nothing' }],
    ['untrusted workspace: nothing', { trusted: false, orphanedForMs: 60_000 }, { action: 'nothing' }],
  ];
  for (const [name, over, want] of rows) {
    it(name, () => assert.deepEqual(onOrphan({ ...base, ...over }), want));
  }
});

describe('policy: a guarded task started in this window', () => {
  const other = held(record({ pid: 100 }));
  const mineReleasing: LockState = { state: 'mine', holder: { record: record({ pid: 7 }), sameHost: true, heartbeatAgeMs: 0 } };
  const rows: Array<[string, Parameters<typeof onTaskStart>[0], ReturnType<typeof onTaskStart>]> = [
    ['this window holds the lock: track it', { isHolder: true, usable: true, state: other, ownPid: 7 }, 'track'],
    ['another holder lives: stop the new copy', { isHolder: false, usable: true, state: other, ownPid: 7 }, 'stop-intruder'],
    ['an unknown holder holds it: stop the new copy', { isHolder: false, usable: true, state: unknownHolder, ownPid: 7 }, 'stop-intruder'],
    ['our own record, being released: queue behind the release', { isHolder: false, usable: true, state: mineReleasing, ownPid: 7 }, 'claim'],
    ['the lock is free: claim it for the task', { isHolder: false, usable: true, state: free, ownPid: 7 }, 'claim'],
    ['the lock is stale: claim it for the task', { isHolder: false, usable: true, state: stale(record()), ownPid: 7 }, 'claim'],
    ['the lock cannot be used: the task runs unguarded', { isHolder: false, usable: true, state: error, ownPid: 7 }, 'run-unguarded'],
    ['no lock could be made: the task runs unguarded', { isHolder: false, usable: false, state: free, ownPid: 7 }, 'run-unguarded'],
  ];
  for (const [name, input, want] of rows) {
    it(name, () => assert.equal(onTaskStart(input), want));
  }
});

describe('policy: at startup', () => {
  const base: Parameters<typeof atStartup>[0] = { isHolder: false, state: free, runningHere: 0, autoStart: true, trusted: true };
  const rows: Array<[string, Partial<typeof base>, ReturnType<typeof atStartup>]> = [
    ['free, autoStart, trusted: start', {}, 'start'],
    ['stale: start too', { state: stale(record()) }, 'start'],
    ['free but guarded tasks already run here: claim them', { runningHere: 1 }, 'claim-running'],
    ['autoStart off: nothing', { autoStart: false }, 'nothing'],
    ['untrusted: nothing starts by itself', { trusted: false }, 'nothing'],
    ['already the holder (re-adopted): nothing', { isHolder: true }, 'nothing'],
    ['held by another: nothing', { state: held(record()) }, 'nothing'],
    ['an error: nothing', { state: error }, 'nothing'],
  ];
  for (const [name, over, want] of rows) {
    it(name, () => assert.equal(atStartup({ ...base, ...over }), want));
  }
});

describe('policy: what is guarded changed (taskLock.tasks, or a compound task\'s tree in tasks.json)', () => {
  const base = { isHolder: true, autoStart: true, missing: 0, runningHere: 2, letGo: false };
  it('the holder starts a guarded label that does not run here, with autoStart', () => {
    assert.equal(afterGuardChange({ ...base, missing: 1 }), 'start');
    assert.equal(afterGuardChange({ ...base, missing: 1, letGo: true, runningHere: 0 }), 'start');
    assert.equal(afterGuardChange({ ...base, missing: 1, autoStart: false }), 'nothing');
  });
  it('a holder left running nothing guarded lets the lock go; one still running some keeps it', () => {
    assert.equal(afterGuardChange({ ...base, autoStart: false, missing: 1, letGo: true, runningHere: 0 }), 'release');
    assert.equal(afterGuardChange({ ...base, letGo: true, runningHere: 1 }), 'nothing');
    // Nothing was let go: a holder running nothing yet (a start under way, adopted tasks) keeps its lock.
    assert.equal(afterGuardChange({ ...base, autoStart: false, missing: 1, runningHere: 0 }), 'nothing');
  });
  it('a follower does nothing here (the tasks it runs were handled as started)', () => {
    assert.equal(afterGuardChange({ ...base, isHolder: false, missing: 1, letGo: true, runningHere: 0 }), 'nothing');
  });
});

describe('policy: copies started before activation (runOn: folderOpen)', () => {
  const base: Parameters<typeof stopsEarlyCopies>[0] = { isHolder: false, runningHere: 1, state: held(record({ pid: 100 })), isAlive: aliveOnly(100) };
  const rows: Array<[string, Partial<typeof base>, boolean]> = [
    ['a live holder on this host: stop them', {}, true],
    ['a holder on another host: stop them (its heartbeat says it lives)', { state: held(record({ pid: 100 }), false), isAlive: aliveOnly() }, true],
    ['an unknown holder: stop them', { state: unknownHolder }, true],
    ['a dead holder: they may be its own tasks, keep them', { isAlive: aliveOnly() }, false],
    ['nothing runs here: nothing to stop', { runningHere: 0 }, false],
    ['this window holds the lock: nothing to stop', { isHolder: true }, false],
    ['the lock is free: nothing to stop', { state: free }, false],
  ];
  for (const [name, over, want] of rows) {
    it(name, () => assert.equal(stopsEarlyCopies({ ...base, ...over }), want));
  }
});

describe('policy: re-adoption and a failed Take Over', () => {
  const task = { name: 'watch', pid: 200, start: 's200' };
  it('re-adopts only a dead window whose tasks were recorded', () => {
    assert.equal(readoptCandidate(held(record({ tasks: [task] })), aliveOnly(200))?.pid, 100);
    assert.equal(readoptCandidate(held(record({ tasks: [task] })), aliveOnly(100, 200)), undefined, 'the holder lives');
    assert.equal(readoptCandidate(held(record({ tasks: [] })), aliveOnly()), undefined, 'no tasks to match');
    assert.equal(readoptCandidate(held(record({ kind: 'cli', tasks: [task] })), aliveOnly(200)), undefined, 'a CLI holder is no window');
    assert.equal(readoptCandidate(free, aliveOnly()), undefined);
  });
  it('a holder is dead when stale, or on this host with its process and tasks gone', () => {
    assert.equal(holderIsDead(stale(record()), aliveOnly(100)), true);
    assert.equal(holderIsDead(held(record({ tasks: [task] })), aliveOnly()), true);
    assert.equal(holderIsDead(held(record({ tasks: [task] })), aliveOnly(200)), false, 'a task still runs');
    assert.equal(holderIsDead(held(record()), aliveOnly(100)), false, 'the holder lives');
    assert.equal(holderIsDead(held(record(), false), aliveOnly()), false, 'another host: only its heartbeat can tell');
    assert.equal(holderIsDead(unknownHolder, aliveOnly()), false);
    assert.equal(holderIsDead(free, aliveOnly()), false);
  });
});
