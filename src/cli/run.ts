// `task-lock run`: take the lock (now or waiting), then run CMD under it, forwarding signals and
// answering Take Over requests.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { HolderInfo, LockError, LockHandle, TAKE_OVER_WAIT_MS, WorkspaceLock, canGate, channelProblem, errorMessage, gatedCommand, openGate } from '../lock';
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

/** How long CMD may take to end after SIGTERM once the lock is lost, before SIGKILL. */
const LOST_STOP_GRACE_MS = 3_000;

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

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

/** CMD behind the gate (gate.ts): it starts only once its pid is recorded (#7 item 5). */
function spawnGated(cmd: string, args: string[]): ChildProcess {
  if (!canGate) {
    return spawn(cmd, args, { stdio: 'inherit' });
  }
  const g = gatedCommand([cmd, ...args]);
  return spawn(g.file, g.args, { stdio: ['inherit', 'inherit', 'inherit', 'pipe'] });
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
    const child = spawnGated(cmd, args);
    const handlers = FORWARDED.map((sig) => {
      const h = (): void => {
        child.kill(sig);
      };
      process.on(sig, h);
      return [sig, h] as const;
    });
    let spawnError: Error | undefined;
    let notRecorded: string | undefined;
    child.on('spawn', () => {
      // The command's process is what must outlive us: if this CLI is killed, the lock stays held until it ends.
      try {
        if (child.pid !== undefined) {
          handle.setTasks([{ name: label, pid: child.pid }]);
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
      err(`lost the lock on ${handle.lock.location.folder}: ${e.message} Stopping ${cmd} so that it does not run beside the next holder.`);
      child.kill('SIGTERM');
      // A command that ignores SIGTERM is killed; after its exit the handle is gone and this does nothing.
      setTimeout(() => child.kill('SIGKILL'), LOST_STOP_GRACE_MS).unref();
    });
    handle.onHandoffRequest((req) => {
      if (!p.handoff) {
        req.refuse('it was started with --no-handoff');
        return;
      }
      err(`${req.requester.kind} “${req.requester.label}” asks for the lock: stopping ${cmd} and handing over.`);
      child.once('exit', () => void req.accept());
      child.kill('SIGTERM');
    });
    child.on('close', (code, signal) => {
      for (const [sig, h] of handlers) {
        process.off(sig, h);
      }
      void handle.release().then(() => {
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
      });
    });
  });
}
