// The command line, parsed: no I/O here, so every rule is unit-tested.
import { DEFAULT_STALE_MS, MAX_STALE_MS, MIN_STALE_MS, TAKE_OVER_WAIT_MS } from '../lock';

const RUN_OPTIONS = `run:
  --wait              wait for the lock instead of exiting with status 75 when it is held
  --wait=SECONDS      wait at most that long, then exit with status 75
  -E N, --conflict-exit-code=N
                      the exit status when the lock is held (default 75), as flock(1) has it
  --take-over         when the lock is held, ask its holder to hand over, as VS Code's "Take Over" does (it stops
                      its tasks first); wait up to ${TAKE_OVER_WAIT_MS / 1000} s for it, then run. A refusal exits with the -E status (75),
                      no answer with 1
  --label NAME        how other windows and commands name this holder (default: the command line)
  --no-handoff        refuse to hand over when asked (Take Over, --take-over, stop); by default CMD is stopped
                      with SIGTERM, the lock handed over, and run exits with CMD's status (143 after SIGTERM)`;

const STATUS_OPTIONS = `status:
  --json              print one JSON object instead of a line (its "version" field names the format)
  status exits 0 when the lock is free, 75 when it is held, 3 when it is stale (its holder is gone: the
  next run takes it over) and 1 when it cannot be read, with --json or without`;

const STOP_OPTIONS = `stop:
  asks the holder (a VS Code window or a run) to stop its tasks and release the lock, as VS Code's "Take Over"
  asks, but takes nothing; waits up to ${TAKE_OVER_WAIT_MS / 1000} s for it. Exits 0 once the lock is free (or when it was),
  75 when the holder refuses (a run started with --no-handoff), 1 when it does not answer`;

const EXIT_STATUS = 'Exit status: CMD\'s status for run; for status 0 free, 75 held, 3 stale; 75 when the lock is held by someone else (or its holder refuses); 2 for a usage error; 1 for other errors.';

export const USAGE = `Usage:
  task-lock run [--folder DIR] [--wait[=SECONDS] | --take-over] [-E N] [--label NAME] [--no-handoff] -- CMD [ARGS...]
  task-lock status [--folder DIR] [--json]
  task-lock stop [--folder DIR]
  task-lock reclaim [--folder DIR] [--force]

Holds the workspace lock of DIR (default: the current directory) that the Task Lock extension uses, so a
command in a terminal and a guarded task in VS Code never run at the same time.

Common options:
  --folder DIR        the workspace folder whose lock to use
  --stale=SECONDS     heartbeat age after which a holder on another host counts as dead (default ${DEFAULT_STALE_MS / 1000}, ${MIN_STALE_MS / 1000} to ${MAX_STALE_MS / 1000});
                      use the same value as the extension's taskLock.staleSeconds
  --lock-dir=DIR      keep the lock in DIR (one subfolder per folder) instead of ~/.cache/task-lock, for example
                      a path shared with other machines or a container

${RUN_OPTIONS}

${STATUS_OPTIONS}

${STOP_OPTIONS}

${EXIT_STATUS}`;


/** The commands that act on a lock (help and version do not). */
export type Command = 'run' | 'status' | 'stop' | 'reclaim';

/** The help of one command: its line of the usage, the common options and its own. */
export function usageOf(command: Command): string {
  const line = USAGE.split('\n').find((l) => l.trim().startsWith(`task-lock ${command} `)) ?? '';
  const common = USAGE.slice(USAGE.indexOf('Common options:'), USAGE.indexOf('\n\nrun:'));
  const own = { run: `\n\n${RUN_OPTIONS}`, status: `\n\n${STATUS_OPTIONS}`, stop: `\n\n${STOP_OPTIONS}`, reclaim: '' }[command];
  return `Usage: ${line.trim()}\n\n${common}${own}\n\n${EXIT_STATUS}`;
}

export class UsageError extends Error {}

export interface Parsed {
  command: Command | 'help' | 'version';
  folder: string;
  waitMs?: number;
  label?: string;
  json: boolean;
  force: boolean;
  handoff: boolean;
  /** run: ask a live holder to hand over instead of giving up. */
  takeOver?: boolean;
  staleMs?: number;
  lockDirectory?: string;
  /** With `help`: the command whose help was asked for. */
  helpFor?: Command;
  /** run: the exit status when the lock is held (-E, flock's name); default 75. */
  conflictExitCode?: number;
  argv: string[];
}

const FLAGS: Record<Parsed['command'], string[]> = {
  run: ['--folder', '--wait', '--take-over', '--label', '--no-handoff', '--stale', '--lock-dir', '-E', '--conflict-exit-code'],
  status: ['--folder', '--json', '--stale', '--lock-dir'],
  stop: ['--folder', '--stale', '--lock-dir'],
  reclaim: ['--folder', '--force', '--stale', '--lock-dir'],
  help: [],
  version: [],
};

export function parseArgs(args: string[]): Parsed {
  const [first, ...rest] = args;
  if (first === undefined) {
    // As flock(1) and most tools: a bare command is a mistake, not a request for help.
    throw new UsageError('no command: use run, status, stop or reclaim');
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    return { command: 'help', folder: '.', json: false, force: false, handoff: true, argv: [] };
  }
  if (first === '--version' || first === '-V') {
    return { command: 'version', folder: '.', json: false, force: false, handoff: true, argv: [] };
  }
  if (first !== 'run' && first !== 'status' && first !== 'stop' && first !== 'reclaim') {
    throw new UsageError(`unknown command "${first}": use run, status, stop or reclaim`);
  }
  const p: Parsed = { command: first, folder: '.', json: false, force: false, handoff: true, argv: [] };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--') {
      p.argv = rest.slice(i + 1);
      break;
    }
    if (arg === '--help' || arg === '-h') {
      return { ...p, command: 'help', helpFor: p.command as Command };
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
        p.staleMs = seconds(name, value(), MIN_STALE_MS / 1000, MAX_STALE_MS / 1000) * 1000;
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
      case '--take-over':
        noValue();
        p.takeOver = true;
        break;
      case '-E':
      case '--conflict-exit-code': {
        const text = value();
        const n = Number(text);
        if (!Number.isInteger(n) || n < 1 || n > 255) {
          throw new UsageError(`${name} needs an exit status from 1 to 255, not "${text}"`);
        }
        p.conflictExitCode = n;
        break;
      }
    }
  }
  if (p.takeOver && p.waitMs !== undefined) {
    // One would wait for the holder to end, the other asks it to: saying which is the user's call.
    throw new UsageError('use --take-over or --wait, not both: --take-over asks the holder to hand over, --wait waits for it to end');
  }
  if (p.command === 'run' && p.argv.length === 0) {
    throw new UsageError('no command to run: put it after --, as in: task-lock run -- npm run watch');
  }
  return p;
}

function seconds(flag: string, text: string, min: number, max = Infinity): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    const range = max < Infinity ? ` from ${min} to ${max}` : min > 0 ? ` of at least ${min}` : '';
    throw new UsageError(`${flag} needs a number of seconds${range}, not "${text}"`);
  }
  return n;
}

/** A command line as a holder label: plain words as they are, anything else quoted. */
export function commandLine(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}
