// `task-lock run`: take the lock (now or waiting), then run CMD under it, forwarding signals and
// answering Take Over requests.
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { HolderInfo, LockError, LockHandle, MARK_VAR, ORPHAN_TERM_MS, TAKE_OVER_WAIT_MS, WorkspaceLock, canGate, channelProblem, errorMessage, gatedCommand, isAlive, openGate, processStart } from '../lock';
import { Parsed, commandLine } from './args';
import { EXIT_BUSY, EXIT_ERROR } from './codes';
import { err, holderLine, nobodyToAsk } from './report';

export async function run(p: Parsed): Promise<number> {
  const lock = new WorkspaceLock(p.folder, { staleMs: p.staleMs, lockDirectory: p.lockDirectory });
  const label = p.label ?? commandLine(p.argv);
  const info = { kind: 'cli' as const, label };
  let handle: LockHandle;
  if (p.takeOver) {
    const r = await takeOver(lock, info, p);
    if (typeof r === 'number') {
      return r;
    }
    handle = r;
  } else if (p.waitMs === undefined) {
    const r = await lock.tryAcquire(info);
    if (!r.ok) {
      if (r.state.state === 'error') {
        throw new LockError('io', r.state.message);
      }
      err(
        r.reserved
          ? `${lock.location.folder} is being handed over to another holder; try again in a moment or use --wait.`
          : `${lock.location.folder} is locked by ${holderLine(r.state)}. Use --wait to wait for it${r.state.state === 'stale' ? ', or task-lock reclaim to clear it' : ''}.`,
      );
      return p.conflictExitCode ?? EXIT_BUSY;
    }
    handle = r.handle;
  } else {
    const abort = new AbortController();
    let stoppedBy: NodeJS.Signals | undefined;
    const onSigint = (): void => {
      stoppedBy = 'SIGINT';
      abort.abort();
    };
    const onSigterm = (): void => {
      stoppedBy = 'SIGTERM';
      abort.abort();
    };
    process.once('SIGINT', onSigint);
    process.once('SIGTERM', onSigterm);
    try {
      handle = await lock.acquire(info, {
        waitMs: p.waitMs === Infinity ? undefined : p.waitMs,
        signal: abort.signal,
        onWaiting: (s) => {
          const pid = s.state === 'held' && s.holder.record ? ` (pid=${s.holder.record.pid})` : '';
          err(`Another command${pid} is holding ${lock.location.folder}: ${holderLine(s)}. Waiting for it to finish...`);
        },
      });
    } catch (e) {
      if (e instanceof LockError && e.code === 'timeout') {
        if (stoppedBy) {
          err(`stopped by ${stoppedBy} while waiting for the lock; ${p.argv[0]} was not started.`);
          return 128 + os.constants.signals[stoppedBy];
        }
        err(`gave up waiting: ${e.message}`);
        return p.conflictExitCode ?? EXIT_BUSY;
      }
      throw e;
    } finally {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
    }
  }
  if (lock.location.fallbackReason) {
    err(`note: ${lock.location.fallbackReason}`);
  }
  const noChannel = channelProblem();
  if (noChannel !== undefined) {
    err(`note: ${noChannel}`);
  }
  return runHolding(handle, p, label);
}

/**
 * run --take-over (run-this-one's way): a live holder is asked to hand over, as VS Code's Take Over asks, and
 * waited for up to TAKE_OVER_WAIT_MS; a free or stale lock is simply taken. The handle, or the exit status.
 */
async function takeOver(lock: WorkspaceLock, info: HolderInfo, p: Parsed): Promise<LockHandle | number> {
  const busy = p.conflictExitCode ?? EXIT_BUSY;
  const folder = lock.location.folder;
  const before = lock.inspect();
  if (before.state === 'held') {
    const orphan = nobodyToAsk(before);
    if (orphan !== undefined) {
      err(`${folder} is held by ${holderLine(before)}: ${orphan}`);
      return EXIT_ERROR;
    }
    err(`${folder} is held by ${holderLine(before)}. Asking it to hand over (up to ${TAKE_OVER_WAIT_MS / 1000} s)...`);
  }
  try {
    return await lock.requestHandoff(info, { timeoutMs: TAKE_OVER_WAIT_MS });
  } catch (e) {
    if (!(e instanceof LockError)) {
      throw e;
    }
    // Named as it is now: the one that refused or kept quiet still holds it.
    const now = lock.inspect();
    const held = `${folder} is held by ${holderLine(now.state === 'held' ? now : before)}`;
    switch (e.code) {
      case 'handoff-refused':
        err(`${held}, which refused to hand over: ${e.reason ?? e.message}. Use --wait to wait for it.`);
        return busy;
      case 'handoff-no-answer':
        err(`${held}, which ${e.reason ?? 'did not answer'}. Its tasks may not stop: end them yourself, or take the lock away with task-lock reclaim --force.`);
        return EXIT_ERROR;
      case 'not-same-host':
        err(`${held}, which cannot be asked to hand over from here (another host, or a holder without a channel). Use --wait to wait for it.`);
        return busy;
      case 'held':
        err(`${folder} is being handed over to another holder; try again in a moment or use --wait.`);
        return busy;
      case 'timeout':
        // Handed over, then taken by another before this process could claim it.
        err(`${folder} was handed over, but another holder took it first: ${e.message} Use --wait to wait for it.`);
        return busy;
      default:
        throw e;
    }
  }
}

/** How long CMD's process group may take to end after SIGTERM (any stop: handoff, loss, a signal), before SIGKILL. */
const STOP_GRACE_MS = ORPHAN_TERM_MS;

/**
 * Signals passed on to CMD's process group; the first four stop it (SIGKILL follows after STOP_GRACE_MS). CMD has
 * no controlling terminal (a session of its own), so a terminal's resize and job control reach it from here too.
 */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', ...(canGate ? (['SIGWINCH', 'SIGCONT'] as const) : [])];
const STOPPING: ReadonlySet<NodeJS.Signals> = new Set(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']);

/** What `execvp` would run for `cmd`, or why it cannot: the gate's shell would only print its own words. */
function findCommand(cmd: string): { ok: true } | { ok: false; code: number; why: string } {
  const candidates = cmd.includes('/') ? [cmd] : (process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d || '.', cmd));
  let denied = false;
  for (const c of candidates) {
    try {
      if (!fs.statSync(c).isFile()) {
        continue;
      }
      fs.accessSync(c, fs.constants.X_OK);
      return { ok: true };
    } catch (e) {
      denied ||= (e as NodeJS.ErrnoException).code === 'EACCES';
    }
  }
  return denied ? { ok: false, code: 126, why: 'permission denied' } : { ok: false, code: 127, why: 'command not found' };
}

/**
 * CMD behind the gate (gate.ts): it starts only once its pid is recorded (#7 item 5). It leads a process group (and
 * session) of its own, so that a stop reaches everything it starts (npm, its shell, the server), and a Ctrl+C in a
 * terminal reaches it once, from this process, rather than from the terminal too. Its environment carries the mark.
 */
function spawnGated(cmd: string, args: string[], mark: string): ChildProcess {
  const env = { ...process.env, [MARK_VAR]: mark };
  if (!canGate) {
    return spawn(cmd, args, { stdio: 'inherit', env });
  }
  const g = gatedCommand([cmd, ...args]);
  return spawn(g.file, g.args, { stdio: ['inherit', 'inherit', 'inherit', 'pipe'], env, detached: true });
}

/**
 * CMD's process group: CMD, then whatever it started that stays in its group (a shell's `&` child, npm's server)
 * after CMD itself has ended. Signalled by group id, which no other process can lead while a member runs (the
 * kernel reuses no pid that names a group). Without groups (Windows), CMD alone.
 */
class CommandGroup {
  private leaderDone = false;
  /** CMD's start time: once CMD has ended, its pid, reused, could name another process. */
  private start: string | null = null;
  private readonly exited: Promise<void>;

  constructor(private readonly child: ChildProcess) {
    child.once('spawn', () => (this.start = child.pid === undefined ? null : processStart(child.pid)));
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        this.leaderDone = true;
        resolve();
      }),
    );
  }

  /** Whether CMD, or a member of its group, runs. */
  running(): boolean {
    const pid = this.child.pid;
    if (pid === undefined) {
      return false;
    }
    return !this.leaderDone || (canGate && this.start !== null && isAlive({ pid, start: this.start, group: true }));
  }

  signal(sig: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined || !this.running()) {
      return;
    }
    try {
      if (canGate) {
        process.kill(-pid, sig);
      } else {
        this.child.kill(sig);
      }
    } catch {
      // Ended meanwhile.
    }
  }

  /** True once nothing of the group runs, false after `timeoutMs`: CMD's end is its event, the rest is looked at in /proc. */
  async ended(timeoutMs = Infinity): Promise<boolean> {
    const since = Date.now();
    if (!this.leaderDone && this.child.pid !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = timeoutMs === Infinity ? undefined : setTimeout(resolve, timeoutMs)));
      await Promise.race([this.exited, late]);
      clearTimeout(timer);
      if (!this.leaderDone) {
        return false;
      }
    }
    for (let step = 10; this.running(); step = Math.min(100, step * 2)) {
      if (Date.now() - since >= timeoutMs) {
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, step));
    }
    return true;
  }

  /** SIGTERM to the whole group, SIGKILL to what still runs after STOP_GRACE_MS; resolves once none runs. */
  async stop(first: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.signal(first);
    if (!(await this.ended(STOP_GRACE_MS))) {
      this.signal('SIGKILL');
      await this.ended();
    }
  }
}

function runHolding(handle: LockHandle, p: Parsed, label: string): Promise<number> {
  return new Promise<number>((resolve) => {
    const [cmd, ...args] = p.argv;
    const found = canGate ? findCommand(cmd) : ({ ok: true } as const);
    if (!found.ok) {
      void handle.release().then(() => {
        err(`cannot run ${cmd}: ${found.why}`);
        resolve(found.code);
      });
      return;
    }
    const mark = randomBytes(16).toString('hex');
    const child = spawnGated(cmd, args, mark);
    const group = new CommandGroup(child);
    // One stop at a time, whatever asks for it (a signal, a handoff, the loss of the lock): its end is awaited by all.
    let stopping: Promise<void> | undefined;
    const stop = (first: NodeJS.Signals = 'SIGTERM'): Promise<void> => (stopping ??= group.stop(first));
    const handlers = FORWARDED.map((sig) => {
      const h = (): void => {
        // A Ctrl+C reaches CMD's group from here only: CMD is in a session of its own, outside the terminal's.
        if (STOPPING.has(sig)) {
          void stop(sig);
        } else {
          group.signal(sig);
        }
      };
      process.on(sig, h);
      return [sig, h] as const;
    });
    if (canGate) {
      // Ctrl+Z: the kernel drops a stop signal to a group in no terminal's session, so CMD's gets SIGSTOP, and this
      // process stops itself as a job would; the shell's SIGCONT (fg, bg) is passed on above.
      const suspend = (): void => {
        group.signal('SIGSTOP');
        process.kill(process.pid, 'SIGSTOP');
      };
      process.on('SIGTSTP', suspend);
      handlers.push(['SIGTSTP', suspend]);
    }
    let spawnError: Error | undefined;
    let notRecorded: string | undefined;
    child.on('spawn', () => {
      // The command's process group is what must outlive us: if this CLI is killed, the lock stays held until it ends.
      try {
        if (child.pid !== undefined) {
          handle.setTasks([{ name: label, pid: child.pid, mark }]);
        }
        if (!handle.isHeld) {
          // Lost before the gate opened (onCompromised says so): CMD never starts.
          child.kill('SIGKILL');
          return;
        }
        openGate(child);
      } catch (e) {
        // Unrecorded, CMD would run unguarded once this CLI died: it does not start at all.
        notRecorded = errorMessage(e);
        child.kill('SIGKILL');
      }
    });
    child.on('error', (e) => {
      spawnError = e;
    });
    // Someone else may hold the lock now: CMD must not run beside them. Never warn and run on.
    let lost = false;
    handle.onCompromised((e) => {
      lost = true;
      err(`lost the lock on ${handle.lock.location.folder}: ${e.message} Stopping ${cmd} and its process group so that they do not run beside the next holder.`);
      void stop();
    });
    handle.onHandoffRequest((req) => {
      if (!p.handoff) {
        req.refuse('it was started with --no-handoff');
        return;
      }
      err(`${req.requester.kind} “${req.requester.label}” asks for the lock: stopping ${cmd} and handing over.`);
      // Handed over once nothing of CMD's group runs: the next holder's copy must not start beside a straggler.
      void stop().then(() => req.accept());
    });
    child.on('close', (code, signal) => {
      void (async () => {
        if (group.running()) {
          // CMD ended, what it started runs on in its group: the lock stays held for it, as for CMD.
          if (stopping === undefined) {
            err(`${cmd} has ended, but processes it started still run in its process group: holding the lock until they end (Ctrl+C stops them).`);
          }
          await group.ended();
        }
        await stopping;
        for (const [sig, h] of handlers) {
          process.off(sig, h);
        }
        await handle.release();
        if (lost) {
          resolve(EXIT_BUSY);
        } else if (notRecorded !== undefined) {
          err(`${cmd} was not started: its process could not be recorded in the lock (${notRecorded}). Free some space in ${handle.lock.location.home}, then try again.`);
          resolve(EXIT_ERROR);
        } else if (spawnError) {
          const notFound = (spawnError as NodeJS.ErrnoException).code === 'ENOENT';
          err(`cannot run ${cmd}: ${notFound ? 'command not found' : spawnError.message}`);
          resolve(notFound ? 127 : 126);
        } else if (signal) {
          resolve(128 + (os.constants.signals[signal] ?? 1));
        } else {
          resolve(code ?? EXIT_ERROR);
        }
      })();
    });
  });
}
