// The `task-lock` command: parse, dispatch, print. The lock semantics are the engine's (src/lock).
import { LockError, LockState, WorkspaceLock, errorMessage, isAlive, proven } from '../lock';
import { Parsed, USAGE, UsageError, parseArgs, usageOf } from './args';
import { EXIT_BUSY, EXIT_ERROR, EXIT_STALE, EXIT_USAGE } from './codes';
import { err, groupNotes, holderLine, out, reservationNote, stateJson } from './report';
import { forgetLauncherEnv } from './launcher';
import { run } from './run';
import { stop } from './stop';

export { EXIT_BUSY } from './codes';

/** The exit status that tells a state: scripts branch on it without parsing (README: "Exit status"). */
function stateCode(s: LockState): number {
  switch (s.state) {
    case 'free':
      return 0;
    case 'stale':
      return EXIT_STALE;
    case 'error':
      return EXIT_ERROR;
    default:
      return EXIT_BUSY;
  }
}

function status(p: Parsed): number {
  // A look only: no lock home is made for a folder nobody locked.
  const lock = new WorkspaceLock(p.folder, { staleMs: p.staleMs, lockDirectory: p.lockDirectory, readOnly: true });
  const s = lock.inspect();
  if (p.json) {
    out(JSON.stringify(stateJson(lock, s)));
    return stateCode(s);
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
      groupNotes(s).forEach((n) => out(`note: ${n}`));
  }
  const reserved = reservationNote(lock.reservation());
  if (reserved !== undefined) {
    out(`note: ${reserved}`);
  }
  if (lock.location.fallbackReason) {
    out(`note: ${lock.location.fallbackReason}`);
  }
  return stateCode(s);
}

async function reclaim(p: Parsed): Promise<number> {
  const lock = new WorkspaceLock(p.folder, { staleMs: p.staleMs, lockDirectory: p.lockDirectory });
  const removed = await lock.clearReservation();
  if (removed !== undefined) {
    out(removed.state === 'bad' ? `removed the bad handoff reservation: ${removed.reason}` : `removed the handoff reservation that is over, ${lock.location.reservationPath}`);
  }
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
      const running = r.stillRunning ?? [];
      const doubtful = (r.previous.state === 'held' ? (r.previous.holder.record?.tasks ?? []) : []).filter((t) => isAlive(t) && !proven(t));
      if (doubtful.length > 0) {
        out(`note: pid ${doubtful.map((t) => t.pid).join(', ')}, named by its record, still ${doubtful.length === 1 ? 'runs' : 'run'}; Task Lock cannot prove ${doubtful.length === 1 ? 'it is' : 'they are'} the holder's task, so ${doubtful.length === 1 ? 'it does' : 'they do'} not keep the lock: look (ps -o pid,user,args -p ${doubtful.map((t) => t.pid).join(',')}), and end ${doubtful.length === 1 ? 'it' : 'them'} yourself if so`);
      }
      if (running.length > 0) {
        const which = running.length === 1 ? `task (pid ${running[0].pid}) has` : `tasks (pid ${running.map((t) => t.pid).join(', ')}) have`;
        out(`it stays held until the holder's ${which} ended, so that nothing starts beside what is still stopping`);
      }
      return 0;
    }
  }
}

export async function main(args: string[]): Promise<number> {
  if (args.length === 0) {
    process.stderr.write(`${USAGE}\n`);
    return EXIT_USAGE;
  }
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
        out(p.helpFor === undefined ? USAGE : usageOf(p.helpFor));
        return 0;
      case 'version':
        out(VERSION);
        return 0;
      case 'status':
        return status(p);
      case 'stop':
        return await stop(p);
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
  forgetLauncherEnv(process.env);
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
