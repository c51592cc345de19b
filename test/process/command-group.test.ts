import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { CLI, cleanup, cli, runCli, tempFolder } from '../support/fixtures';
import { waitFor } from '../support/wait';

// #16 item 2: `task-lock run -- npm run dev` starts npm, a shell, the server. Every stop of the CLI's command must
// reach all of them, and the lock stays held while any of them runs: else the server runs beside the next holder.

after(async () => {
  assert.deepEqual(await cleanup(), [], 'processes were left running');
});

/** The running members of process group `pgid` (zombies run nothing). */
function members(pgid: number): number[] {
  return fs.readdirSync('/proc').flatMap((e) => {
    try {
      const fields = fs.readFileSync(`/proc/${e}/stat`, 'utf8').split(') ').pop()?.split(' ') ?? [];
      return /^\d+$/.test(e) && Number(fields[2]) === pgid && fields[0] !== 'Z' ? [Number(e)] : [];
    } catch {
      return [];
    }
  });
}

/** The recorded task's pid (its process group's id) once `run` holds the lock. */
async function commandOf(folder: string): Promise<number> {
  return waitFor('the command to be recorded', async () => {
    const r = await runCli(['status', '--folder', folder, '--json']);
    const j = JSON.parse(r.stdout) as { holder?: { tasks: Array<{ pid: number }> } | null };
    return j.holder?.tasks[0]?.pid;
  });
}

/** A command whose shell waits for a child: the shape of `npm run dev` (npm, sh, the server). */
const SHELL_WITH_CHILD = ['--', 'sh', '-c', 'sleep 40; :'];

/** Kills a group a failed test left running, so that the file's own leftover check names the failure, not this. */
function endGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // Ended.
  }
}

const linux = process.platform === 'linux' || 'process groups are looked at in /proc';

describe('the whole command stops (#16 item 2)', { skip: linux === true ? false : linux }, () => {
  it('task-lock stop ends the shell and its child, and leaves the lock free at once', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, ...SHELL_WITH_CHILD]);
    const pgid = await commandOf(folder);
    await waitFor('the child to start', () => members(pgid).length === 2);
    const stop = await runCli(['stop', '--folder', folder]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /the lock on .* is free\n$/);
    const left = members(pgid);
    endGroup(pgid);
    assert.deepEqual(left, [], 'a member of the command\'s group outlived the stop');
    const next = await runCli(['run', '--folder', folder, '--', 'true']);
    assert.equal(next.code, 0, `the next run found the lock not free: ${next.stderr}`);
    await holder.result;
  });

  it('SIGTERM to the CLI (a process manager, a closed terminal) reaches the whole group; a member that ignores it gets SIGKILL', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, '--', 'sh', '-c', 'sh -c \'trap "" TERM; echo ready; while :; do sleep 1; done\' & wait']);
    const pgid = await commandOf(folder);
    await waitFor('the stubborn child to be ready', () => holder.out().includes('ready'));
    holder.kill('SIGTERM');
    const r = await holder.result;
    const left = members(pgid);
    endGroup(pgid);
    assert.deepEqual(left, [], 'a member of the command\'s group outlived the CLI');
    assert.equal(r.code, 143, r.stderr);
    assert.equal((await runCli(['status', '--folder', folder])).code, 0, 'the lock is free');
  });

  it('reclaim --force: the next holder starts only once the whole group of the one it took from has ended', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, '--', 'sh', '-c', 'sh -c \'trap "" TERM; echo ready; while :; do sleep 1; done\' & wait']);
    const pgid = await commandOf(folder);
    await waitFor('the stubborn child to be ready', () => holder.out().includes('ready'));
    const waiter = cli(['run', '--wait=30', '--folder', folder, '--', 'sh', '-c', `for p in /proc/[0-9]*; do set -- $(cat "$p/stat" 2>/dev/null); [ "$5" = ${pgid} ] && [ "$3" != Z ] && echo beside && exit 0; done; echo alone`]);
    await waitFor('the waiter to wait', () => waiter.err().includes('Waiting for it'));
    const reclaim = await runCli(['reclaim', '--force', '--folder', folder]);
    assert.equal(reclaim.code, 0, reclaim.stderr);
    const w = await waiter.result;
    endGroup(pgid);
    assert.equal(w.stdout.trim(), 'alone', 'the next holder started beside a member of the taken one\'s group');
    assert.equal((await holder.result).code, 75);
  });

  it('a command that ends leaving a child in its group keeps the lock until the child ends, and status says why', async () => {
    const folder = tempFolder();
    const marker = `${tempFolder()}/go`;
    const holder = cli(['run', '--folder', folder, '--', 'sh', '-c', `(while [ ! -e ${marker} ]; do sleep 0.1; done) & echo started`]);
    const pgid = await commandOf(folder);
    await waitFor('the shell to end', () => holder.err().includes('processes it started still run'));
    const busy = await runCli(['run', '--folder', folder, '--', 'true']);
    assert.equal(busy.code, 75, 'a second copy could start while the first one\'s child ran');
    const s = await runCli(['status', '--folder', folder]);
    assert.match(s.stdout, new RegExp(`note: .* \\(pid ${pgid}\\) has ended, but processes it started still run in its process group`));
    fs.writeFileSync(marker, '');
    const r = await holder.result;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'started\n');
    assert.deepEqual(members(pgid), []);
    assert.equal((await runCli(['status', '--folder', folder])).code, 0, 'free once the child ended');
  });

  it('Ctrl+Z stops the whole command with the CLI, and the shell\'s SIGCONT (fg) lets it run on', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, ...SHELL_WITH_CHILD]);
    const pgid = await commandOf(folder);
    await waitFor('the child to start', () => members(pgid).length === 2);
    const state = (pid: number): string => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()?.split(' ')[0] ?? '?';
    // A terminal's Ctrl+Z signals the foreground job: the CLI.
    holder.kill('SIGTSTP');
    await waitFor('the CLI and every member of its command to stop', () => [holder.pid ?? 0, ...members(pgid)].every((p) => state(p) === 'T'));
    holder.kill('SIGCONT');
    await waitFor('all of them to run again', () => [holder.pid ?? 0, ...members(pgid)].every((p) => state(p) !== 'T'));
    holder.kill('SIGTERM');
    await holder.result;
    assert.deepEqual(members(pgid), []);
  });

  it('a Ctrl+C in a terminal reaches the command once (the terminal signals the CLI\'s group; the CLI passes it on)', async () => {
    const folder = tempFolder();
    const log = `${tempFolder()}/ints`;
    // As a shell runs a job: the CLI leads a process group, which the terminal's Ctrl+C signals as a whole.
    const child = spawn(process.execPath, [CLI, 'run', '--folder', folder, '--', 'sh', '-c', `trap 'echo INT >> ${log}' INT; echo ready; while :; do sleep 0.1; done`], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const holder = Object.assign(child, { out: '' }) as typeof child & { out: string };
    child.stdout.setEncoding('utf8').on('data', (d: string) => (holder.out += d));
    const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const pgid = await commandOf(folder);
    await waitFor('the command to be ready', () => holder.out.includes('ready'));
    process.kill(-(child.pid ?? 0), 'SIGINT');
    const code = await done;
    endGroup(pgid);
    assert.equal(fs.readFileSync(log, 'utf8'), 'INT\n', 'the command got SIGINT more than once, or not at all');
    assert.equal(code, 137, 'it ignored SIGINT (its trap went on), so SIGKILL followed after the grace');
  });
});
