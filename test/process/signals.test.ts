import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanup, runCli, start, tempFolder } from '../support/fixtures';

after(cleanup);

const root = process.getuid?.() === 0 && process.platform === 'linux';
const STOPPER = path.resolve(__dirname, '../support/forged-stopper.js');

interface Victim {
  orphan: boolean;
  took: boolean;
  alive: boolean;
}

// #16 item 3: a record in the lock home is anyone's words. A waiting window stops an orphan's tasks by itself; it
// must signal only processes that prove to be the task (pid, start time, and the task's mark in its environment).
describe('no record can aim a signal (#16 item 3)', () => {
  it('forged orphan records naming init, the stopper, its parent, an unrelated process and another user\'s: none is signalled; a genuine orphan is stopped', { skip: !root && 'a private pid namespace needs root' }, async () => {
    const folder = tempFolder();
    fs.chmodSync(folder, 0o755);
    // Inside the namespace a wrong kill(-1) reaches only its own processes. Its init (pid 1) is this shell.
    const script = [
      // An unrelated process of this user carries no mark: the mark is the proof, one with it is a task of Task Lock's.
      'env -u TASK_LOCK_MARK setsid sleep 120 & U=$!',
      'setpriv --reuid=65534 --regid=65534 --clear-groups sleep 120 & O=$!',
      'sleep 0.2',
      // The stopper's parent is a shell of its own (not init): `; :` keeps it from exec-ing node. The stopper leads
      // a session of its own, so that its parent and init are in another process group: only the rule on its
      // ancestors protects them.
      `sh -c 'setsid "$0" "$1" "$2" "{\\"init\\":1,\\"unrelated\\":'$U',\\"otherUser\\":'$O'}"; :' "${process.execPath}" "${STOPPER}" "${folder}"`,
      'kill -KILL $U $O 2>/dev/null; wait',
    ].join('\n');
    // The other processes in there carry the forged record's mark: only the rules on whom never to signal protect
    // init, the stopper, its parent and another user's process.
    const env = { ...process.env, TASK_LOCK_MARK: 'f'.repeat(32) };
    const r = await start('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL', 'sh', '-c', script], { env }).result;
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Record<string, Victim> & { genuine: { took: boolean; groupLeft: number } };
    for (const who of ['init', 'stopper', 'parent', 'unrelated', 'otherUser']) {
      assert.deepEqual(report[who], { orphan: true, took: false, alive: true }, `${who}: ${JSON.stringify(report[who])}`);
    }
    assert.deepEqual(report.genuine, { took: true, groupLeft: 0 }, 'a genuine orphan is stopped, with its group, and the lock taken');
  });

  it('a record another user owns is reported and judged by its heartbeat, never by the pids it names', { skip: !root && 'giving a file to another user needs root' }, async () => {
    const { WorkspaceLock, processStart } = await import('../../src/lock');
    const { pidNamespace } = await import('../../src/lock/process-identity');
    const lock = new WorkspaceLock(tempFolder());
    fs.mkdirSync(lock.location.lockDir);
    const st = fs.statSync(lock.location.lockDir);
    // Written by another user of a shared lock folder, naming a process of ours that lives (this one).
    const rec = { version: 1, token: 'f'.repeat(32), kind: 'cli', label: 'theirs', pid: process.pid, start: processStart(process.pid), hostname: (await import('node:os')).hostname(), pidNamespace: pidNamespace(), since: new Date().toISOString(), socket: null, lockId: `${st.dev}:${st.ino}:${st.birthtimeMs}`, tasks: [] };
    fs.writeFileSync(lock.location.recordPath, JSON.stringify(rec));
    fs.chownSync(lock.location.recordPath, 65534, 65534);
    const fresh = lock.inspect();
    assert.equal(fresh.state, 'held', 'held while its heartbeat is fresh');
    assert.equal(fresh.state === 'held' ? fresh.holder.record : 'none', undefined, 'the record is not obeyed');
    assert.match(fresh.state === 'held' ? (fresh.holder.unknownReason ?? '') : '', /belongs to nobody \(uid 65534\), not to you/);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lock.location.lockDir, old, old);
    assert.equal(lock.inspect().state, 'stale', 'a quiet heartbeat is stale, although the pid it names lives');
  });

  it('the CLI advises no kill of a process it cannot prove, and a forced reclaim keeps no lock for it', async () => {
    const folder = tempFolder();
    const victim = start('sleep', ['60']);
    // The record of a killed `run` whose command runs on, except that the process it names carries no mark.
    const { WorkspaceLock, processStart } = await import('../../src/lock');
    const { pidNamespace } = await import('../../src/lock/process-identity');
    const lock = new WorkspaceLock(folder);
    fs.mkdirSync(lock.location.lockDir);
    const st = fs.statSync(lock.location.lockDir);
    fs.writeFileSync(
      lock.location.recordPath,
      JSON.stringify({ version: 1, token: 'f'.repeat(32), kind: 'cli', label: 'forged', pid: 2 ** 22 - 1, start: 'gone', hostname: (await import('node:os')).hostname(), pidNamespace: pidNamespace(), since: new Date().toISOString(), socket: null, lockId: `${st.dev}:${st.ino}:${st.birthtimeMs}`, tasks: [{ name: 'x', pid: victim.pid, start: processStart(victim.pid ?? 0), group: true, mark: 'f'.repeat(32) }] }),
    );
    const stop = await runCli(['stop', '--folder', folder]);
    assert.equal(stop.code, 1, stop.stderr);
    assert.match(stop.stderr, /cannot prove that this process is what the record says: look \(ps -o pid,user,args -p \d+\)/);
    assert.doesNotMatch(stop.stderr, /kill/);
    const reclaim = await runCli(['reclaim', '--force', '--folder', folder]);
    assert.equal(reclaim.code, 0, reclaim.stderr);
    assert.doesNotMatch(reclaim.stdout, /stays held/);
    assert.match(reclaim.stdout, new RegExp(`note: pid ${victim.pid}, named by its record, still runs; Task Lock cannot prove it is the holder's task`));
    const next = await runCli(['run', '--folder', folder, '--', 'true']);
    assert.equal(next.code, 0, `the lock is free for the next holder: ${next.stderr}`);
    assert.equal(victim.exitCode === null && victim.signalCode === null && processStart(victim.pid ?? 0) !== null, true, 'the process the record named was not signalled');
    victim.kill('SIGKILL');
    await victim.result;
  });
});
