import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProcessRef } from '../../src/lock/process-identity';
import type { HolderRecord, RecordRead } from '../../src/lock/record';
import { JudgeInput, describeHolder, describeState, holderFields, judge, lockIdOf } from '../../src/lock/state';

const dir = { mtimeMs: 100_000, dev: 1, ino: 2, birthtimeMs: 3 };
const record: HolderRecord = {
  version: 1,
  token: 'tok',
  kind: 'vscode',
  label: 'Code — app',
  pid: 10,
  start: 's10',
  hostname: 'here',
  pidNamespace: '4026531836',
  since: '2026-11-26T10:00:00.000Z',
  socket: null,
  lockId: lockIdOf(dir),
  tasks: [{ name: 'watch', pid: 20, start: 's20' }],
};

function input(over: Partial<JudgeInput> & { alive?: number[] } = {}): JudgeInput {
  const alive = new Set(over.alive ?? [10, 20]);
  return {
    lockDir: dir,
    record: { kind: 'ok', record },
    nowMs: dir.mtimeMs + 1000,
    heartbeatStillMs: 0,
    staleMs: 10_000,
    hostname: 'here',
    pidNamespace: '4026531836',
    isAlive: (r: ProcessRef) => alive.has(r.pid),
    ...over,
  };
}

describe('judge', () => {
  it('a nameless lock folder dated ahead (a killed taker, then a touch -d) turns stale once seen still for stale, not in an hour', () => {
    // Found by the in-test soak: a lock-out of an hour from one SIGKILL and one touch.
    const none: RecordRead = { kind: 'none' };
    const ahead = { ...dir, mtimeMs: dir.mtimeMs + 3_600_000 };
    assert.equal(judge(input({ lockDir: ahead, record: none, heartbeatStillMs: 0 })).state, 'held');
    const s = judge(input({ lockDir: ahead, record: none, heartbeatStillMs: 10_001 }));
    assert.equal(s.state, 'stale');
    // An old one is stale at a first look, as before: a plain run need not watch it.
    assert.equal(judge(input({ lockDir: dir, record: none, nowMs: dir.mtimeMs + 20_000, heartbeatStillMs: 0 })).state, 'stale');
  });

  it('calls a lock without a lock directory free, whatever record is left', () => {
    assert.deepEqual(judge(input({ lockDir: null })), { state: 'free' });
  });

  it('calls the lock mine when the token matches', () => {
    assert.equal(judge(input({ myToken: 'tok' })).state, 'mine');
  });

  it('keeps a same-host lock held while the holder lives, even with an old heartbeat', () => {
    const s = judge(input({ nowMs: dir.mtimeMs + 60_000 }));
    assert.equal(s.state, 'held');
  });

  it('keeps a same-host lock held by a task that outlived its launcher, and calls that holder an orphan since its last heartbeat', () => {
    const s = judge(input({ alive: [20] }));
    assert.equal(s.state, 'held');
    assert.equal(s.state === 'held' ? s.holder.orphanedSinceMs : undefined, dir.mtimeMs);
    assert.equal(s.state === 'held' ? holderFields(s.holder)?.orphanedSince : undefined, new Date(dir.mtimeMs).toISOString());
    const live = judge(input());
    assert.equal(live.state === 'held' ? live.holder.orphanedSinceMs : 'not held', undefined, 'a live holder is no orphan');
  });

  it('calls a same-host lock stale at once when the holder and its tasks are gone, heartbeat or not', () => {
    const s = judge(input({ alive: [] }));
    assert.equal(s.state, 'stale');
    assert.match((s as { reason: string }).reason, /holder pid 10 and its task have exited/);
    // The same as data, for the editor's words in any language.
    assert.deepEqual((s as { cause: unknown }).cause, { kind: 'holder-exited', pid: 10, tasks: 1 });
  });

  it('trusts only the heartbeat for a holder on another host, judged by how long it was seen standing still', () => {
    const remote: RecordRead = { kind: 'ok', record: { ...record, hostname: 'there' } };
    assert.equal(judge(input({ record: remote, alive: [], heartbeatStillMs: 9_000 })).state, 'held');
    const s = judge(input({ record: remote, alive: [10, 20], heartbeatStillMs: 11_000 }));
    assert.equal(s.state, 'stale');
    assert.match((s as { reason: string }).reason, /no heartbeat from there for 11\.0 s \(by this host's clock\)/);
    assert.deepEqual((s as { cause: unknown }).cause, { kind: 'no-heartbeat', host: 'there', otherPidNamespace: false, stillMs: 11_000 });
  });

  it('never compares another host\'s heartbeat with this host\'s clock (clock skew either way)', () => {
    const remote: RecordRead = { kind: 'ok', record: { ...record, hostname: 'there' } };
    // Its clock an hour behind: the mtime looks an hour old, but it was just seen to change.
    assert.equal(judge(input({ record: remote, nowMs: dir.mtimeMs + 3_600_000, heartbeatStillMs: 0 })).state, 'held');
    // Its clock an hour ahead: the mtime is in our future, but it has stood still for longer than stale.
    assert.equal(judge(input({ record: remote, nowMs: dir.mtimeMs - 3_600_000, heartbeatStillMs: 10_001 })).state, 'stale');
  });

  it('judges a holder in another pid namespace on this host (a container) by its heartbeat, never by pid', () => {
    const boxed: RecordRead = { kind: 'ok', record: { ...record, pid: 1, pidNamespace: '4026532178' } };
    // Pid 1 here is init, alive: it says nothing about the container's pid 1.
    const live = judge(input({ record: boxed, pidNamespace: '4026531836', alive: [1], heartbeatStillMs: 9_000 }));
    assert.equal(live.state, 'held');
    const none = judge(input({ record: boxed, pidNamespace: '4026531836', alive: [], heartbeatStillMs: 9_000 }));
    assert.equal(none.state, 'held', 'no process of that number here: still held while it beats');
    const view = (none as { holder: Parameters<typeof holderFields>[0] }).holder;
    assert.equal(view.sameHost, false);
    assert.equal(view.otherPidNamespace, true);
    assert.match(describeHolder(view), /\(pid 1 on here in another pid namespace, since/);
    assert.deepEqual(
      (({ sameHost, otherPidNamespace, judgedBy }) => ({ sameHost, otherPidNamespace, judgedBy }))(holderFields(view) ?? ({} as never)),
      { sameHost: true, otherPidNamespace: true, judgedBy: 'heartbeat' },
    );
    const s = judge(input({ record: boxed, pidNamespace: '4026531836', alive: [1], heartbeatStillMs: 11_000 }));
    assert.equal(s.state, 'stale');
    assert.match((s as { reason: string }).reason, /no heartbeat from here in another pid namespace for 11\.0 s/);
    assert.deepEqual((s as { cause: unknown }).cause, { kind: 'no-heartbeat', host: 'here', otherPidNamespace: true, stillMs: 11_000 });
    assert.equal(holderFields((s as { holder: Parameters<typeof holderFields>[0] }).holder)?.heartbeatStillMs, 11_000);
  });

  it('judges by process only a record of the same pid namespace (or of a platform without them, on one too)', () => {
    const own: RecordRead = { kind: 'ok', record: { ...record, pidNamespace: '4026531836' } };
    assert.equal(judge(input({ record: own, pidNamespace: '4026531836', alive: [] })).state, 'stale');
    assert.equal(judge(input({ record: own, pidNamespace: '4026531836', nowMs: dir.mtimeMs + 60_000 })).state, 'held');
    // Null on both sides: a platform without pid namespaces; on Linux, writer and reader could not read theirs.
    const noNamespaces: RecordRead = { kind: 'ok', record: { ...record, pidNamespace: null } };
    assert.equal(judge(input({ record: noNamespaces, pidNamespace: null, alive: [] })).state, process.platform === 'linux' ? 'held' : 'stale');
  });

  it('judges a record without a pid namespace, or one a reader cannot compare, by its heartbeat: its pids may be another namespace\'s (#16 item 3)', () => {
    // A record from inside a container that names pid 1 (guessable, with init's start tick) must not be read as this
    // namespace's init: by process it would be held while init lives, and its tasks would be this host's processes.
    const cases: Array<[string | null | undefined, string | null]> = [[undefined, '4026531836'], [null, '4026531836'], ['4026531836', null], ...(process.platform === 'linux' ? [[null, null] as [null, null]] : [])];
    for (const [recorded, mine] of cases) {
      const rec: RecordRead = { kind: 'ok', record: { ...record, pid: 1, pidNamespace: recorded, tasks: [{ name: 'watch', pid: 1, start: 's1' }] } };
      const s = judge(input({ record: rec, pidNamespace: mine, alive: [1], heartbeatStillMs: 11_000 }));
      assert.equal(s.state, 'stale', `${String(recorded)} read by ${String(mine)}`);
      assert.equal(s.state === 'stale' && s.holder.sameHost, false);
    }
  });

  it('ignores a record that belongs to an earlier lock directory', () => {
    const old: RecordRead = { kind: 'ok', record: { ...record, lockId: '1:2:999' } };
    const fresh = judge(input({ record: old, alive: [] }));
    assert.equal(fresh.state, 'held');
    assert.equal((fresh as { holder: { unknownReason?: string } }).holder.unknownReason, 'the holder record belongs to an earlier lock');
    assert.equal((fresh as { holder: { unknown?: string } }).holder.unknown, 'earlier-lock');
    assert.equal(judge(input({ record: old, nowMs: dir.mtimeMs + 20_000 })).state, 'stale');
  });

  it('reports a corrupt record as an unknown holder, stale only when the heartbeat stops', () => {
    const corrupt: RecordRead = { kind: 'corrupt', reason: 'the holder record is not valid JSON' };
    const s = judge(input({ record: corrupt }));
    assert.equal(s.state, 'held');
    assert.match(describeHolder((s as { holder: Parameters<typeof describeHolder>[0] }).holder), /unknown holder \(the holder record is not valid JSON\)/);
    const stale = judge(input({ record: corrupt, nowMs: dir.mtimeMs + 10_001 }));
    assert.deepEqual(stale.state === 'stale' ? stale.cause : stale.state, { kind: 'unknown-holder', unknown: 'corrupt', quietMs: 10_001 });
  });

  it('names the holder with kind, label, pid, host, since and tasks', () => {
    const s = judge(input());
    const text = describeHolder((s as { holder: Parameters<typeof describeHolder>[0] }).holder);
    assert.equal(text, 'vscode “Code — app” (pid 10 on here, since 2026-11-26T10:00:00.000Z, task watch (pid 20))');
  });

  it('describes a whole state in one line', () => {
    assert.equal(describeState({ state: 'free' }), 'free');
    assert.equal(describeState({ state: 'error', message: 'Cannot read' }), 'error: Cannot read');
    assert.equal(describeState(judge(input())), 'held by vscode “Code — app” (pid 10 on here, since 2026-11-26T10:00:00.000Z, task watch (pid 20))');
    assert.match(describeState(judge(input({ alive: [] }))), /^stale \(holder pid 10 and its task have exited\), was vscode “Code — app”/);
  });

  it('projects a holder to plain fields (what JSON and the status carry); none for an unknown holder', () => {
    const s = judge(input({ nowMs: dir.mtimeMs + 1234.4 }));
    assert.deepEqual(holderFields((s as { holder: Parameters<typeof holderFields>[0] }).holder), {
      kind: 'vscode',
      label: 'Code — app',
      pid: 10,
      hostname: 'here',
      since: '2026-11-26T10:00:00.000Z',
      tasks: [{ name: 'watch', pid: 20 }],
      sameHost: true,
      otherPidNamespace: false,
      judgedBy: 'process',
      heartbeatAgeMs: 1234,
    });
    assert.equal(holderFields({ unknownReason: 'no holder record', sameHost: false, heartbeatAgeMs: 0 }), undefined);
  });
});
