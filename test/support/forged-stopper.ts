// Run inside a private pid namespace (`unshare --pid --fork --mount-proc`) by test/process/signals.test.ts: a wrong
// kill(-1) there reaches only this namespace. It plants orphan records in a lock home, as anyone who can write there
// could, each naming a process that must never be signalled, and asks the engine to stop them as a waiting window
// does once taskLock.orphanGraceSeconds is over (takeFromOrphan). Then a genuine orphan, started with its mark, which
// must be stopped, with the child in its process group. Prints one JSON report on stdout.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { MARK_VAR, WorkspaceLock, processStart, type HolderRecord, type TaskRef } from '../../src/lock';
import { pidNamespace } from '../../src/lock/process-identity';
import { pidAlive } from './wait';

const folder = process.argv[2];
const victims: Record<string, number> = JSON.parse(process.argv[3]) as Record<string, number>;

/** A pid that ran and has ended: the forged holder, gone, so that its tasks make an orphan. */
function deadPid(): { pid: number; start: string | null } {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return { pid: Number(String(r.stdout).trim()), start: 'gone' };
}

function plant(lock: WorkspaceLock, tasks: TaskRef[]): string {
  fs.rmSync(lock.location.lockDir, { recursive: true, force: true });
  fs.mkdirSync(lock.location.lockDir);
  const st = fs.statSync(lock.location.lockDir);
  const holder = deadPid();
  const rec: HolderRecord = {
    version: 1,
    token: `forged${Math.random().toString(16).slice(2)}`,
    kind: 'vscode',
    label: 'forged',
    pid: holder.pid,
    start: holder.start,
    hostname: os.hostname(),
    pidNamespace: pidNamespace(),
    since: new Date().toISOString(),
    socket: null,
    lockId: `${st.dev}:${st.ino}:${st.birthtimeMs}`,
    tasks,
  };
  fs.writeFileSync(lock.location.recordPath, JSON.stringify(rec));
  return rec.token;
}

async function main(): Promise<void> {
  const lock = new WorkspaceLock(folder);
  const info = { kind: 'vscode' as const, label: 'stopper' };
  const report: Record<string, unknown> = { stopper: process.pid, parent: process.ppid };
  const named: Record<string, number> = { ...victims, stopper: process.pid, parent: process.ppid };
  for (const [who, pid] of Object.entries(named)) {
    // The strongest forgery: pid and start time right (anyone can read them), a mark of its own choosing, and the
    // record saying the process leads its group, so that a signal would go to the whole group (-pid).
    const start = processStart(pid);
    const token = plant(lock, [{ name: who, pid, start, group: true, mark: 'f'.repeat(32) }]);
    const state = lock.inspect();
    const r = await lock.takeFromOrphan(info, token);
    report[who] = { orphan: state.state === 'held' && state.holder.orphanedSinceMs !== undefined, took: r?.ok === true, alive: pidAlive(pid) };
    if (r?.ok) {
      await r.handle.release();
    }
  }
  // A genuine orphan: a task started with its mark, leading its group, with a child in that group.
  const mark = 'a1'.repeat(16);
  const task = spawn('sh', ['-c', 'sleep 60 & wait'], { detached: true, stdio: 'ignore', env: { ...process.env, [MARK_VAR]: mark } });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const pid = task.pid ?? 0;
  const token = plant(lock, [{ name: 'watch', pid, start: processStart(pid), group: true, mark }]);
  const r = await lock.takeFromOrphan(info, token);
  const members = fs.readdirSync('/proc').filter((e) => {
    try {
      const fields = fs.readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return /^\d+$/.test(e) && fields[2] === String(pid) && fields[0] !== 'Z';
    } catch {
      return false;
    }
  });
  report.genuine = { took: r?.ok === true, groupLeft: members.length };
  if (r?.ok) {
    await r.handle.release();
  }
  process.stdout.write(JSON.stringify(report));
}

void main();
