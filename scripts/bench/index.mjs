// `npm run bench`: Task Lock against raw proper-lockfile at its defaults, measured in one run, printed as
// a Markdown table. It is a measurement, not a test: it never fails on a missed target, it reports it.
// The engine is used only through its public index (out/src/lock/index.js, loaded by common.mjs) and the
// CLI (dist/cli.js); every child runs in its own process group (procs.mjs).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { engine, lockfile, rawTarget } from './common.mjs';
import { atCleanup, cleanup, cleanupOnExit, killGroup, start, startNode, stop, until, waitLine } from './procs.mjs';
import { renderReport } from './report.mjs';
import { hasStrace, ioDelta, procIo, sampleHeartbeats, startStrace, stopStrace } from './strace.mjs';

const HELPERS = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(HELPERS, '..', '..', 'dist', 'cli.js');

const UNCONTENDED_ROUNDS = 500;
const FAILOVER_ROUNDS = 15;
const RAW_FAILOVER_ROUNDS = 3;
const HANDOFF_ROUNDS = 20;
// Same-host failover with many waiters: the issue's counts. BENCH_WAITER_ROUNDS (for 1 and 10 waiters) and
// BENCH_WAITER_ROUNDS_50 lower the rounds while working on the bench; 50 Node processes take a few seconds
// to start on two cores, hence fewer rounds there (with 10, the nearest-rank p95 is the maximum).
const WAITER_COUNTS = [1, 10, 50];
const WAITER_ROUNDS = Number(process.env.BENCH_WAITER_ROUNDS ?? 20);
const WAITER_ROUNDS_50 = Number(process.env.BENCH_WAITER_ROUNDS_50 ?? 10);
// Cross-host failover waits out the stale time: the smallest stale Task Lock accepts keeps it short. Each
// round takes about two stale times; they run during the idle minute, as the raw failover does.
const CROSS_HOST_ROUNDS = Number(process.env.BENCH_CROSS_HOST_ROUNDS ?? 5);
const CROSS_HOST_STALE_S = Number(process.env.BENCH_CROSS_HOST_STALE_S ?? 2);
/** The other "host": a UTS namespace with its own hostname, and a PID namespace, so that its pids mean nothing here. */
const OTHER_HOST = 'bench-other-host';
// --kill-child: when the bench kills unshare, the holder inside dies with it, whatever its process group.
const UNSHARE_ARGS = ['--uts', '--pid', '--fork', '--kill-child', '--mount-proc'];
// BENCH_IDLE_S shortens the idle minute while working on the bench itself.
const IDLE_MS = Number(process.env.BENCH_IDLE_S ?? 60) * 1000;

const started = Date.now();
// The machine may be shared: its load beside the figures says how much of them is someone else's work.
const loadAtStart = os.loadavg()[0];
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'task-lock-bench-'));
const socketFiles = new Set();
// Runs after every child is killed: a SIGKILLed holder cannot remove its channel's socket file, and
// nothing of ours listens any more.
atCleanup(() => {
  for (const f of socketFiles) {
    fs.rmSync(f, { force: true });
  }
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});
cleanupOnExit();

function log(line) {
  process.stderr.write(`bench: ${line}\n`);
}

function folder(name) {
  const dir = path.join(tmpRoot, name);
  fs.mkdirSync(dir);
  // The lock home lives in the user's cache, outside the folder: the bench must not leave it behind there.
  const home = engine.defaultHome(dir);
  atCleanup(() => fs.rmSync(home, { recursive: true, force: true }));
  return dir;
}

function helper(name) {
  return path.join(HELPERS, name);
}

/** A CLI holder running `sleep`, as a user would start it; resolves once its task is on record. */
async function startCliHolder(dir, name) {
  const lock = new engine.WorkspaceLock(dir);
  const child = startNode([CLI, 'run', '--folder', dir, '--label', name, '--', 'sleep', '1000'], name);
  try {
    const rec = await until(
      () => {
        const s = lock.inspect();
        return s.state === 'held' && s.holder.record?.pid === child.pid && s.holder.record.tasks.length === 1 && s.holder.record;
      },
      10_000,
      `${name} to hold ${dir} with its task`,
    );
    if (rec.socket) {
      socketFiles.add(rec.socket);
    }
  } catch (err) {
    await stop(child);
    throw new Error(`${err.message}; stderr: ${child.stderrText.trim() || '(empty)'}`);
  }
  return child;
}

// ---------------------------------------------------------------- 1. uncontended

async function benchUncontended() {
  const lock = new engine.WorkspaceLock(folder('uncontended'));
  const rawLockTarget = rawTarget(folder('uncontended-raw'));
  const info = { kind: 'cli', label: 'bench' };
  const ours = async () => {
    const r = await lock.tryAcquire(info);
    if (!r.ok) {
      throw new Error(`uncontended lock was ${r.state.state}`);
    }
    await r.handle.release();
  };
  const raw = async () => {
    const release = await lockfile.lock(rawLockTarget, { realpath: false, onCompromised: () => undefined });
    await release();
  };
  for (let i = 0; i < 30; i++) {
    await ours();
    await raw();
  }
  const a = [];
  const b = [];
  // Interleaved, so that a noisy moment on the machine hits both sides alike.
  for (let i = 0; i < UNCONTENDED_ROUNDS; i++) {
    let t = performance.now();
    await ours();
    a.push(performance.now() - t);
    t = performance.now();
    await raw();
    b.push(performance.now() - t);
  }
  return { ours: a, raw: b };
}

// ---------------------------------------------------------------- 2. failover

async function failoverRound(dir, mode, i) {
  let holder;
  let waiter;
  try {
    if (mode === 'engine') {
      holder = await startCliHolder(dir, `holder-${i}`);
    } else {
      holder = startNode([helper('holder.mjs'), 'raw', dir], `raw-holder-${i}`);
      await waitLine(holder, (l) => l.startsWith('ready'), 10_000);
    }
    waiter = startNode([helper('waiter.mjs'), mode, dir], `${mode}-waiter-${i}`);
    await waitLine(waiter, (l) => l === 'waiting', 10_000);
    // Gives the waiter's watcher time to connect to the holder's channel, as a long-waiting one would be.
    await sleep(150);
    const t0 = Date.now();
    killGroup(holder.pid);
    const line = await waitLine(waiter, (l) => l.startsWith('held '), 30_000);
    await waiter.exited;
    return Number(line.slice(5)) - t0;
  } finally {
    for (const c of [waiter, holder]) {
      if (c) {
        await stop(c);
      }
    }
  }
}

async function benchFailover() {
  const dir = folder('failover');
  const lock = new engine.WorkspaceLock(dir);
  const out = [];
  for (let i = 0; i < FAILOVER_ROUNDS; i++) {
    out.push(await failoverRound(dir, 'engine', i));
    const s = lock.inspect();
    if (s.state !== 'free') {
      log(`after failover round ${i} the lock is ${s.state}; clearing it`);
      await lock.reclaim({ force: true });
    }
  }
  return out;
}

/** Each raw round waits out the full stale time, so they run side by side, in separate folders. */
function benchRawFailover() {
  return Promise.all(Array.from({ length: RAW_FAILOVER_ROUNDS }, (_, i) => failoverRound(folder(`failover-raw-${i}`), 'raw', i)));
}

// ---------------------------------------------------------------- 3. failover with many waiters

/**
 * One round: a CLI holder (as in the failover above), `n` waiters (engine, --hold), SIGKILL to the holder
 * and its task. The figure is the first waiter's Date.now() when it holds the lock minus the bench's
 * Date.now() just before the kill: one wall clock for every process on the host, to the millisecond.
 * Waiters keep what they win, so a second winner cannot hide behind a release; the round ends once every
 * loser has looked again and seen the winner (its `waiting held PID` line), then counts who holds.
 */
async function manyWaitersRound(dir, n, i) {
  const waiters = [];
  let holder;
  let winner;
  try {
    holder = await startCliHolder(dir, `holder-${n}w-${i}`);
    for (let k = 0; k < n; k++) {
      waiters.push(startNode([helper('waiter.mjs'), 'engine', dir, '--hold'], `waiter-${n}w-${i}-${k}`));
    }
    const waitingFor = (pid) => (l) => l === `waiting held ${pid}`;
    await Promise.all(waiters.map((w) => waitLine(w, waitingFor(holder.pid), 60_000)));
    // As in the failover above: time for the last waiter's watcher to connect to the holder's channel.
    await sleep(150);
    const t0 = Date.now();
    killGroup(holder.pid);
    const first = await Promise.any(waiters.map((w) => waitLine(w, (l) => l.startsWith('held '), 30_000).then((l) => ({ w, at: Number(l.slice(5)) }))));
    winner = first.w;
    const losers = waiters.filter((w) => w !== winner);
    // A loser that won too also ends the wait: it is counted below.
    const seen = await Promise.all(
      losers.map((w) =>
        waitLine(w, (l) => waitingFor(winner.pid)(l) || l.startsWith('held '), 15_000).then(
          () => true,
          () => false,
        ),
      ),
    );
    const winners = waiters.filter((w) => w.lines.some((l) => l.startsWith('held '))).length;
    const s = new engine.WorkspaceLock(dir).inspect();
    const recorded = s.state === 'held' && s.holder.record?.pid === winner.pid;
    if (winners !== 1 || !recorded) {
      log(`DEFECT: failover with ${n} waiters, round ${i}: ${winners} waiters hold the lock; the lock is ${s.state}${s.holder?.record ? ` by pid ${s.holder.record.pid}` : ''}, the first winner was pid ${winner.pid}`);
    }
    const unsettled = seen.filter((ok) => !ok).length;
    if (unsettled > 0) {
      log(`failover with ${n} waiters, round ${i}: ${unsettled} losers did not report the winner within 15 s`);
    }
    return { ms: first.at - t0, winners, unsettled };
  } finally {
    // Losers first: stopping the winner first would hand the lock to one of them.
    await Promise.all(waiters.filter((w) => w !== winner).map((w) => stop(w)));
    for (const c of [winner, holder]) {
      if (c) {
        await stop(c);
      }
    }
  }
}

/** Rounds of 1, 10 and 50 waiters interleaved, so that a noisy moment on the machine hits every count alike. */
async function benchManyWaiters() {
  const out = Object.fromEntries(WAITER_COUNTS.map((n) => [n, { ms: [], winners: [], unsettled: 0 }]));
  const rounds = (n) => (n >= 50 ? WAITER_ROUNDS_50 : WAITER_ROUNDS);
  const dirs = Object.fromEntries(WAITER_COUNTS.map((n) => [n, folder(`waiters-${n}`)]));
  for (let i = 0; i < Math.max(...WAITER_COUNTS.map(rounds)); i++) {
    for (const n of WAITER_COUNTS.filter((c) => i < rounds(c))) {
      const r = await manyWaitersRound(dirs[n], n, i);
      out[n].ms.push(r.ms);
      out[n].winners.push(r.winners);
      out[n].unsettled += r.unsettled;
      const lock = new engine.WorkspaceLock(dirs[n]);
      if (lock.inspect().state !== 'free') {
        log(`after the round ${i} with ${n} waiters the lock is ${lock.inspect().state}; clearing it`);
        await lock.reclaim({ force: true });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- 4. cross-host failover (simulated)

/** Why the namespaces cannot be made here, or undefined when they can. */
function crossHostUnavailable() {
  if (process.platform !== 'linux') {
    return 'needs Linux namespaces';
  }
  try {
    execFileSync('unshare', [...UNSHARE_ARGS, 'sh', '-c', `hostname ${OTHER_HOST} && test "$(hostname)" = ${OTHER_HOST}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 10_000,
      killSignal: 'SIGKILL',
    });
    return undefined;
  } catch (err) {
    const why = err.stderr?.toString().trim().split('\n').pop() || err.message;
    return `unshare ${UNSHARE_ARGS.join(' ')} failed (${why})${process.getuid?.() === 0 ? '' : '; it needs root'}`;
  }
}

/**
 * One round: `task-lock run` holds the lock from a namespace whose hostname differs, so the follower on
 * this host (engine, --hold, same stale) can judge it only by its heartbeat. The kill comes at a random
 * moment of the heartbeat's period. Two figures: from the kill, and from the last heartbeat (the lock
 * folder's mtime once the holder is dead) to the moment the follower holds the lock.
 */
async function crossHostRound(dir, i) {
  const lock = new engine.WorkspaceLock(dir, { staleMs: CROSS_HOST_STALE_S * 1000 });
  const name = `cross-host-holder-${i}`;
  let holder;
  let follower;
  try {
    holder = start(
      'unshare',
      [
        ...UNSHARE_ARGS,
        'sh',
        '-c',
        `hostname ${OTHER_HOST} && exec "$0" "$@"`,
        process.execPath,
        CLI,
        'run',
        '--stale',
        String(CROSS_HOST_STALE_S),
        '--folder',
        dir,
        '--label',
        name,
        '--',
        'sleep',
        '1000',
      ],
      name,
    );
    const rec = await until(
      () => {
        const s = lock.inspect();
        return s.state === 'held' && s.holder.record?.hostname === OTHER_HOST && s.holder.record.tasks.length === 1 && s.holder.record;
      },
      10_000,
      `${name} to hold ${dir} from ${OTHER_HOST}`,
    ).catch((err) => {
      throw new Error(`${err.message}; stderr: ${holder.stderrText.trim() || '(empty)'}`);
    });
    if (rec.socket) {
      socketFiles.add(rec.socket);
    }
    follower = startNode([helper('waiter.mjs'), 'engine', dir, '--hold', '--stale', String(CROSS_HOST_STALE_S)], `cross-host-follower-${i}`);
    await waitLine(follower, (l) => l.startsWith('waiting held '), 10_000);
    await sleep(lock.updateMs * (1 + Math.random()));
    const t0 = Date.now();
    killGroup(holder.pid);
    await holder.exited;
    // The holder (PID 1 of its namespace) dies with unshare; its last heartbeat is settled well before the
    // follower can judge it stale (at least stale - update, 1 s, later).
    await sleep(100);
    // The record is judged bound to the lock folder only while that folder is the one it was written for.
    const s = lock.inspect();
    if (s.state !== 'held' || s.holder.record?.token !== rec.token) {
      throw new Error(`${name}'s lock changed before the follower could take it: ${engine.describeState(s)}`);
    }
    const st = fs.statSync(lock.location.lockDir);
    const line = await waitLine(follower, (l) => l.startsWith('held '), lock.staleMs + 10_000);
    const at = Number(line.slice(5));
    return { killToHeld: at - t0, beatToHeld: at - st.mtimeMs };
  } finally {
    for (const c of [follower, holder]) {
      if (c) {
        await stop(c);
      }
    }
  }
}

async function benchCrossHost() {
  const staleMs = CROSS_HOST_STALE_S * 1000;
  const { update } = engine.lockTimings(staleMs);
  const out = { staleMs, updateMs: update, killToHeld: [], beatToHeld: [] };
  const why = crossHostUnavailable();
  if (why) {
    log(`cross-host failover skipped: ${why}`);
    return { ...out, skipped: why };
  }
  const dir = folder('cross-host');
  for (let i = 0; i < CROSS_HOST_ROUNDS; i++) {
    const r = await crossHostRound(dir, i);
    out.killToHeld.push(r.killToHeld);
    out.beatToHeld.push(r.beatToHeld);
  }
  return out;
}

// ---------------------------------------------------------------- 5. handoff

async function benchHandoff() {
  const dir = folder('handoff');
  const lock = new engine.WorkspaceLock(dir);
  const out = [];
  for (let i = 0; i < HANDOFF_ROUNDS; i++) {
    const holder = startNode([helper('holder.mjs'), 'engine', dir, '--handoff'], `handoff-holder-${i}`);
    try {
      await waitLine(holder, (l) => l.startsWith('ready'), 10_000);
      const s = lock.inspect();
      if (s.state === 'held' && s.holder.record?.socket) {
        socketFiles.add(s.holder.record.socket);
      }
      const t0 = performance.now();
      const handle = await lock.requestHandoff({ kind: 'vscode', label: 'bench requester' }, { timeoutMs: 10_000 });
      out.push(performance.now() - t0);
      await handle.release();
      await Promise.race([holder.exited, sleep(5000)]);
    } finally {
      await stop(holder);
    }
  }
  return out;
}

// ---------------------------------------------------------------- 6. idle cost (and raw and cross-host failover)

async function benchIdle(straceOk) {
  const dir = folder('idle');
  const rawDir = folder('idle-raw');
  const children = [];
  const straces = {};
  const stracesOut = {};
  try {
    const holder = await startCliHolder(dir, 'idle-holder');
    children.push(holder);
    const follower = startNode([helper('follower.mjs'), dir], 'idle-follower');
    children.push(follower);
    const rawHolder = startNode([helper('holder.mjs'), 'raw', rawDir], 'idle-raw-holder');
    children.push(rawHolder);
    await waitLine(follower, (l) => l.startsWith('ready'), 10_000);
    await waitLine(rawHolder, (l) => l.startsWith('ready'), 10_000);
    // Start-up work (loading modules, the first record) is not idle cost.
    await sleep(1000);
    const who = { holder, follower, rawHolder };
    if (straceOk) {
      for (const [k, c] of Object.entries(who)) {
        straces[k] = startStrace(c.pid, path.join(tmpRoot, `strace-${k}.txt`));
      }
      await Promise.all(Object.values(straces).map((s) => s.attached));
    }
    const io0 = Object.fromEntries(Object.entries(who).map(([k, c]) => [k, procIo(c.pid)]));
    const oursBeats = sampleHeartbeats(new engine.WorkspaceLock(dir).location.home, 'workspace.lock');
    const rawBeats = sampleHeartbeats(rawDir, `${path.basename(rawTarget(rawDir))}.lock`);
    const t0 = performance.now();
    // The raw failover waits out its stale time anyway: it runs during the idle minute, on other processes.
    const rawFailover = benchRawFailover().catch((err) => {
      log(`raw failover failed: ${err.message}`);
      return [];
    });
    // So does the cross-host failover: its rounds are mostly waiting for a heartbeat to age.
    const crossHost = benchCrossHost().catch((err) => {
      log(`cross-host failover failed: ${err.message}`);
      return { staleMs: CROSS_HOST_STALE_S * 1000, updateMs: NaN, killToHeld: [], beatToHeld: [], skipped: `failed: ${err.message}` };
    });
    await sleep(IDLE_MS);
    const minutes = (performance.now() - t0) / 60_000;
    const io1 = Object.fromEntries(Object.entries(who).map(([k, c]) => [k, procIo(c.pid)]));
    const beats = { ours: oursBeats(), raw: rawBeats() };
    for (const [k, s] of Object.entries(straces)) {
      delete straces[k];
      const { counts, errText } = await stopStrace(s);
      stracesOut[k] = counts;
      if (!counts) {
        log(`strace of ${k} gave nothing: ${errText}`);
      }
    }
    follower.kill('SIGTERM');
    const events = await waitLine(follower, (l) => l.startsWith('events '), 5000).catch(() => 'events {}');
    const io = Object.fromEntries(Object.keys(who).map((k) => [k, ioDelta(io0[k], io1[k])]));
    return { minutes, beats, io, strace: stracesOut, followerEvents: JSON.parse(events.slice(7)), rawFailover: await rawFailover, crossHost: await crossHost };
  } finally {
    // On an error, strace is still attached: detach it before its tracees go.
    for (const s of Object.values(straces)) {
      await stop(s.child);
    }
    for (const c of children.reverse()) {
      await stop(c);
    }
  }
}

async function main() {
  if (process.env.BENCH_ONLY === 'waiters') {
    // For comparing an engine change on this row alone (a full run takes minutes).
    const waiters = await benchManyWaiters();
    for (const [n, r] of Object.entries(waiters)) {
      const sorted = [...r.ms].sort((a, b) => a - b);
      log(`${n} waiters: median ${sorted[Math.floor(sorted.length / 2)]} ms, samples ${r.ms.join(', ')}; winners ${r.winners.join(',')}`);
    }
    return;
  }
  const straceOk = hasStrace();
  log(`temp folders under ${tmpRoot}`);

  log(`1/5 uncontended acquire + release, ${UNCONTENDED_ROUNDS} rounds each`);
  const uncontended = await benchUncontended();

  log(`2/5 same-host failover, ${FAILOVER_ROUNDS} rounds`);
  const failover = await benchFailover();

  log(`3/5 same-host failover with ${WAITER_COUNTS.join(', ')} waiters, ${WAITER_ROUNDS} rounds (${WAITER_ROUNDS_50} with 50)`);
  const waiters = await benchManyWaiters();

  log(`4/5 cooperative handoff, ${HANDOFF_ROUNDS} rounds`);
  const handoff = await benchHandoff();

  log(
    `5/5 idle cost over ${IDLE_MS / 1000} s (raw failover, ${RAW_FAILOVER_ROUNDS} rounds, and cross-host failover, ${CROSS_HOST_ROUNDS} rounds at stale ${CROSS_HOST_STALE_S} s, run meanwhile)${straceOk ? '' : '; strace not installed: syscall count n/a'}`,
  );
  const idle = await benchIdle(straceOk);

  process.stdout.write(renderReport({ uncontended, failover, waiters, handoff, idle, tookMs: Date.now() - started, load: { start: loadAtStart, end: os.loadavg()[0] } }));
}

try {
  await main();
} catch (err) {
  log(`failed: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
