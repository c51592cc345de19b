import { spawn } from 'node:child_process';
import * as os from 'node:os';
import { LockError, LockHandle, LockState, WorkspaceLock, describeHolder, errorMessage } from './lock';

/** The exit status of "the lock is busy": BSD's EX_TEMPFAIL, as flock(1) users know it. */
export const EXIT_BUSY = 75;
const EXIT_USAGE = 2;
const EXIT_ERROR = 1;

const USAGE = `Usage:
  task-lock run [--folder DIR] [--wait[=SECONDS]] [--label NAME] [--no-handoff] -- CMD [ARGS...]
  task-lock status [--folder DIR] [--json]
  task-lock reclaim [--folder DIR] [--force]

Holds the workspace lock of DIR (default: the current directory) that the Task Lock extension uses, so a
command in a terminal and a guarded task in VS Code never run at the same time.

Common options:
  --folder DIR        the workspace folder whose lock to use
  --stale=SECONDS     heartbeat age after which a holder on another host counts as dead (default 10, min 2);
                      use the same value as the extension's taskLock.staleSeconds
  --lock-dir=DIR      keep the lock in DIR instead of DIR/.vscode/task-lock (for example a shared path)

run:
  --wait              wait for the lock instead of exiting with status 75 when it is held
  --wait=SECONDS      wait at most that long, then exit with status 75
  --label NAME        how other windows and commands name this holder (default: the command line)
  --no-handoff        refuse requests from VS Code's "Take Over" (by default CMD is stopped and the lock handed over)

Exit status: CMD's status for run; 75 when the lock is held by someone else; 2 for a usage error; 1 for other errors.`;

class UsageError extends Error {}

interface Parsed {
  command: 'run' | 'status' | 'reclaim' | 'help' | 'version';
  folder: string;
  waitMs?: number;
  label?: string;
  json: boolean;
  force: boolean;
  handoff: boolean;
  staleMs?: number;
  lockDirectory?: string;
  argv: string[];
}

const FLAGS: Record<Parsed['command'], string[]> = {
  run: ['--folder', '--wait', '--label', '--no-handoff', '--stale', '--lock-dir'],
  status: ['--folder', '--json', '--stale', '--lock-dir'],
  reclaim: ['--folder', '--force', '--stale', '--lock-dir'],
  help: [],
  version: [],
};

export function parseArgs(args: string[]): Parsed {
  const [first, ...rest] = args;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    return { command: 'help', folder: '.', json: false, force: false, handoff: true, argv: [] };
  }
  if (first === '--version' || first === '-V') {
    return { command: 'version', folder: '.', json: false, force: false, handoff: true, argv: [] };
  }
  if (first !== 'run' && first !== 'status' && first !== 'reclaim') {
    throw new UsageError(`unknown command "${first}": use run, status or reclaim`);
  }
  const p: Parsed = { command: first, folder: '.', json: false, force: false, handoff: true, argv: [] };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--') {
      p.argv = rest.slice(i + 1);
      break;
    }
    if (arg === '--help' || arg === '-h') {
      return { ...p, command: 'help' };
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    if (!FLAGS[p.command].includes(name)) {
      if (name.startsWith('-')) {
        throw new UsageError(`unknown option ${name} for "${p.command}"`);
      }
      throw new UsageError(p.command === 'run' ? `unexpected "${arg}": put the command after --, as in: task-lock run -- ${arg}` : `unexpected argument "${arg}"`);
    }
    const value = (): string => {
      if (inline !== undefined) {
        return inline;
      }
      const next = rest[i + 1];
      if (next === undefined || next === '--') {
        throw new UsageError(`${name} needs a value`);
      }
      i++;
      return next;
    };
    const noValue = (): void => {
      if (inline !== undefined) {
        throw new UsageError(`${name} takes no value`);
      }
    };
    switch (name) {
      case '--folder':
        p.folder = value();
        break;
      case '--label':
        p.label = value();
        break;
      case '--lock-dir':
        p.lockDirectory = value();
        break;
      case '--stale':
        p.staleMs = seconds(name, value(), 2) * 1000;
        break;
      case '--wait':
        // Only the `=` form takes a value: `--wait 5` would be ambiguous with a command.
        p.waitMs = inline === undefined ? Infinity : seconds(name, inline, 0) * 1000;
        break;
      case '--json':
        noValue();
        p.json = true;
        break;
      case '--force':
        noValue();
        p.force = true;
        break;
      case '--no-handoff':
        noValue();
        p.handoff = false;
        break;
    }
  }
  if (p.command === 'run' && p.argv.length === 0) {
    throw new UsageError('no command to run: put it after --, as in: task-lock run -- npm run watch');
  }
  return p;
}

function seconds(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min) {
    throw new UsageError(`${flag} needs a number of seconds${min > 0 ? ` of at least ${min}` : ''}, not "${text}"`);
  }
  return n;
}

function err(line: string): void {
  process.stderr.write(`task-lock: ${line}\n`);
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function commandLine(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

function holderLine(state: LockState): string {
  if (state.state === 'held' || state.state === 'mine' || state.state === 'stale') {
    return describeHolder(state.holder);
  }
  return state.state;
}

async function run(p: Parsed): Promise<number> {
  const lock = new WorkspaceLock(p.folder, { staleMs: p.staleMs, lockDirectory: p.lockDirectory });
  const label = p.label ?? commandLine(p.argv);
  const info = { kind: 'cli' as const, label };
  let handle: LockHandle;
  if (p.waitMs === undefined) {
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
      return EXIT_BUSY;
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
        return EXIT_BUSY;
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
  return runHolding(handle, p);
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

function runHolding(handle: LockHandle, p: Parsed): Promise<number> {
  return new Promise<number>((resolve) => {
    const [cmd, ...args] = p.argv;
    const child = spawn(cmd, args, { stdio: 'inherit' });
    const forward = (sig: NodeJS.Signals): void => {
      child.kill(sig);
    };
    const handlers = FORWARDED.map((sig) => {
      const h = (): void => forward(sig);
      process.on(sig, h);
      return [sig, h] as const;
    });
    let spawnError: Error | undefined;
    child.on('spawn', () => {
      // The command's process is what must outlive us: if this CLI is killed, the lock stays held until it ends.
      if (child.pid !== undefined) {
        handle.setTasks([{ name: p.label ?? commandLine(p.argv), pid: child.pid }]);
      }
    });
    child.on('error', (e) => {
      spawnError = e;
    });
    handle.onCompromised((e) => err(`warning: ${e.message} ${cmd} keeps running, but no longer under the lock.`));
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
        if (spawnError) {
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

function stateJson(lock: WorkspaceLock, s: LockState): Record<string, unknown> {
  const base: Record<string, unknown> = { folder: lock.location.folder, lockHome: lock.location.home };
  if (lock.location.fallbackReason) {
    base.fallback = lock.location.fallbackReason;
  }
  if (s.state === 'free') {
    return { state: 'free', ...base };
  }
  if (s.state === 'error') {
    return { state: 'error', message: s.message, ...base };
  }
  const r = s.holder.record;
  const holder = r
    ? {
        kind: r.kind,
        label: r.label,
        pid: r.pid,
        hostname: r.hostname,
        since: r.since,
        tasks: r.tasks.map((t) => ({ name: t.name, pid: t.pid })),
        sameHost: s.holder.sameHost,
        heartbeatAgeMs: Math.round(s.holder.heartbeatAgeMs),
      }
    : null;
  return {
    state: s.state === 'stale' ? 'stale' : 'held',
    holder,
    ...(r ? {} : { unknownHolder: s.holder.unknownReason }),
    ...(s.state === 'stale' ? { reason: s.reason } : {}),
    ...base,
  };
}

function status(p: Parsed): number {
  const lock = new WorkspaceLock(p.folder, { staleMs: p.staleMs, lockDirectory: p.lockDirectory });
  const s = lock.inspect();
  if (p.json) {
    out(JSON.stringify(stateJson(lock, s)));
    return s.state === 'error' ? EXIT_ERROR : 0;
  }
  const where = lock.location.folder;
  switch (s.state) {
    case 'free':
      out(`free: nobody holds the lock on ${where}`);
      break;
    case 'error':
      err(s.message);
      return EXIT_ERROR;
    case 'stale':
      out(`stale: ${where} was held by ${holderLine(s)}; ${s.reason}. Run "task-lock reclaim" to clear it.`);
      break;
    default:
      out(`held: ${where} is held by ${holderLine(s)}`);
  }
  if (lock.location.fallbackReason) {
    out(`note: ${lock.location.fallbackReason}`);
  }
  return 0;
}

async function reclaim(p: Parsed): Promise<number> {
  const lock = new WorkspaceLock(p.folder, { staleMs: p.staleMs, lockDirectory: p.lockDirectory });
  const r = await lock.reclaim({ force: p.force });
  switch (r.result) {
    case 'nothing':
      if (r.state.state === 'error') {
        err(r.state.message);
        return EXIT_ERROR;
      }
      out(`nothing to reclaim: the lock on ${lock.location.folder} is free`);
      return 0;
    case 'alive':
      err(`${lock.location.folder} is held by ${holderLine(r.state)}, which is alive. Stop it, or use --force to take the lock away from it.`);
      return EXIT_ERROR;
    case 'reclaimed': {
      const why = r.previous.state === 'stale' ? r.previous.reason : 'forced';
      out(`reclaimed the lock on ${lock.location.folder} from ${holderLine(r.previous)} (${why})`);
      return 0;
    }
  }
}

export async function main(args: string[]): Promise<number> {
  let p: Parsed;
  try {
    p = parseArgs(args);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${e.message} (see task-lock --help)`);
      return EXIT_USAGE;
    }
    throw e;
  }
  try {
    switch (p.command) {
      case 'help':
        out(USAGE);
        return 0;
      case 'version':
        out(VERSION);
        return 0;
      case 'status':
        return status(p);
      case 'reclaim':
        return await reclaim(p);
      case 'run':
        return await run(p);
    }
  } catch (e) {
    err(e instanceof LockError ? e.message : `unexpected error: ${errorMessage(e)}`);
    return EXIT_ERROR;
  }
}

declare const __VERSION__: string | undefined;
const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : 'dev';

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      err(`unexpected error: ${errorMessage(e)}`);
      process.exitCode = EXIT_ERROR;
    },
  );
}
