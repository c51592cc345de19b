// The soak (issue #7): many contenders pass one folder's lock back and forth through the real CLI while the
// soak kills, touches, removes and reclaims at random; a detector outside the lock counts any two guarded
// commands alive at once. Shared by `npm run soak` (scripts/soak.mjs) and test/process/soak.test.ts.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WorkspaceLock } from '../../src/lock';
import { CLI } from './fixtures';
import { sleep, waitFor } from './wait';

export interface SoakOptions {
  /** Guarded commands to start under the lock (each one a transfer of the lock). */
  transfers: number;
  /** Contender slots, each running `task-lock run --wait` again and again. */
  procs: number;
  /** The longest a guarded command works, in ms (each one picks at random up to it). */
  workMs?: number;
  /** The longest a guarded command takes to end after SIGTERM, in ms, as a server that cleans up would. */
  termMs?: number;
  /** Per transfer, how likely each fault is; see DEFAULT_RATES. */
  rates?: Partial<FaultRates>;
  /** Passed to every CLI as --lock-dir; by default the CLI's own lock home. */
  lockDir?: string;
  seed?: number;
  /** Keep the soak's folder (the journal, the detector's files) for a look afterwards. */
  keep?: boolean;
  /** Progress lines, about one every few seconds. */
  log?(line: string): void;
}

export interface FaultRates {
  /** SIGKILL of the holder's CLI, its command or both, at a random moment of the command's work. */
  kill: number;
  /** SIGKILL of the CLI right after it recorded itself, before its command's pid is recorded. */
  killEarly: number;
  /** SIGKILL of the command right when its pid is recorded: the gate may not have opened yet. */
  killGate: number;
  /** SIGKILL of a contender that is waiting. */
  killWaiter: number;
  /** `touch` of a file in the lock home or of the lock folder (now, or up to an hour off). */
  touch: number;
  /** `rm -rf` of the whole lock home. */
  remove: number;
  /** `task-lock reclaim --force`. */
  reclaim: number;
}

export const DEFAULT_RATES: FaultRates = { kill: 0.1, killEarly: 0.04, killGate: 0.04, killWaiter: 0.03, touch: 0.12, remove: 0.015, reclaim: 0.015 };

export type KillKind = 'cli' | 'cmd' | 'both' | 'cli-before-record' | 'cmd-at-gate' | 'waiter';

export interface SoakReport {
  transfers: number;
  kills: Record<KillKind, number>;
  touches: number;
  removals: number;
  reclaims: number;
  overlaps: number;
  /** Each overlap with the soak's last actions before it was seen. */
  overlapDetails: string[];
  leftovers: string[];
  /** How many CLIs ran their command in each shape. */
  shapes: Record<Shape, number>;
  /** How the contenders' CLIs ended: "exit 0", "exit 75", "SIGKILL", … */
  exits: Record<string, number>;
  /** Distinct messages of CLIs that ended with status 1 (an error, neither busy nor the command's status). */
  errors: string[];
  selfCheck: { ok: boolean; detail: string };
  seed: number;
  wallMs: number;
  /** Where the journal is, when the folder was kept. */
  kept?: string;
}

const KILL_KINDS: KillKind[] = ['cli', 'cmd', 'both', 'cli-before-record', 'cmd-at-gate', 'waiter'];

/**
 * The guarded command. Its first act is a non-blocking flock on a file outside the lock home, kept until it
 * dies: the kernel drops that flock when the process ends, even by SIGKILL, so a killed command can never
 * be taken for a live one, and a command that starts while another is alive fails to get it and writes an
 * overlap line. It runs in one of the SHAPES users bring: alone, under a shell that waits for it (npm run's
 * shape: the CLI records and kills the shell, the work is its child's), or as a shell's `&` child that ignores
 * SIGTERM (a server that does not stop when asked): the whole group must end before the next command starts.
 * perl-base only (no Time::HiRes): the soak must run on a bare Debian.
 */
const COMMAND = `
use strict;
use Fcntl qw(:flock);
my ($dir, $work_ms, $term_ms) = @ARGV;
sub line { my ($file, $text) = @_; open(my $f, '>>', "$dir/$file") or die; syswrite($f, "$text\\n"); close($f); }
open(my $run, '+>>', "$dir/running") or die "running: $!";
if (!flock($run, LOCK_EX | LOCK_NB)) {
  my $other = '?';
  if (open(my $h, '<', "$dir/holder")) { $other = <$h> // '?'; chomp $other; }
  line('overlaps', "O $$ " . getppid() . " $other");
  exit 99;
}
$SIG{TERM} = $ENV{SOAK_IGNORE_TERM} ? 'IGNORE' : sub { select(undef, undef, undef, rand($term_ms) / 1000); exit 143; };
open(my $h, '>', "$dir/holder") or die; syswrite($h, "$$\\n"); close($h);
line('starts', "S $$ " . getppid());
select(undef, undef, undef, (1 + rand($work_ms)) / 1000);
exit 0;
`;

/** How a guarded command is started: `perl` alone, `sh -c 'perl …; :'`, or `sh -c 'perl … & wait'` ignoring SIGTERM. */
export const SHAPES = ['alone', 'shell', 'stubborn-child'] as const;
export type Shape = (typeof SHAPES)[number];

function shaped(shape: Shape, perl: string[]): { argv: string[]; env: NodeJS.ProcessEnv } {
  switch (shape) {
    case 'alone':
      return { argv: perl, env: process.env };
    case 'shell':
      return { argv: ['sh', '-c', '"$@"; :', 'sh', ...perl], env: process.env };
    case 'stubborn-child':
      return { argv: ['sh', '-c', '"$@" & wait', 'sh', ...perl], env: { ...process.env, SOAK_IGNORE_TERM: '1' } };
  }
}

/** A small seeded generator (mulberry32): a failing soak can be run again with the same choices. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lines appended to a file since the last read; a partial last line waits for its end. */
class Tail {
  private offset = 0;
  private rest = '';
  constructor(private readonly file: string) {}
  read(): string[] {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return [];
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= this.offset) {
        return [];
      }
      const buf = Buffer.alloc(size - this.offset);
      const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      const text = this.rest + buf.subarray(0, n).toString('utf8');
      const lines = text.split('\n');
      this.rest = lines.pop() ?? '';
      return lines.filter((l) => l !== '');
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** The names in a folder; none when it is gone (the soak removes the lock home at times). */
function listing(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** The command line of a process, or undefined when it is gone. */
function cmdline(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Every live process of this soak. Each one names the soak's folder on its command line (the CLIs by
 * --folder, the gates and the commands by the command's path), so none can hide, whoever started it.
 */
function soakProcesses(root: string): Array<{ pid: number; cmd: string }> {
  const found: Array<{ pid: number; cmd: string }> = [];
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) {
      continue;
    }
    const cmd = cmdline(pid);
    if (cmd !== undefined && cmd.includes(root) && running(pid)) {
      found.push({ pid, cmd });
    }
  }
  return found;
}

/** SIGKILL, only while the pid still belongs to this soak (pids wrap at 32768 here, and get reused). */
function killOurs(root: string, pid: number | undefined): boolean {
  if (pid === undefined || !(cmdline(pid) ?? '').includes(root)) {
    return false;
  }
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runProcess(cmd: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Proves that the detector sees an overlap when there is one, and only then: two commands run outside the
 * lock, one while the other works, must give exactly one overlap line; one after the other, or after the
 * first was SIGKILLed mid-work, none. Without this a detector that always says 0 would pass the soak.
 */
export async function selfCheck(dir: string, script: string): Promise<{ ok: boolean; detail: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const overlaps = (): number => (fs.existsSync(path.join(dir, 'overlaps')) ? fs.readFileSync(path.join(dir, 'overlaps'), 'utf8').split('\n').filter(Boolean).length : 0);
  const starts = (): number => (fs.existsSync(path.join(dir, 'starts')) ? fs.readFileSync(path.join(dir, 'starts'), 'utf8').split('\n').filter(Boolean).length : 0);
  const long = (): ChildProcess => spawn('perl', [script, dir, '3000', '0'], { stdio: 'ignore' });
  const problems: string[] = [];
  const first = long();
  try {
    await waitFor('the first command to start', () => starts() === 1, { timeoutMs: 10_000 });
    const second = await runProcess('perl', [script, dir, '1', '0'], 10_000);
    if (second.code !== 99 || overlaps() !== 1) {
      problems.push(`a command started beside a running one gave status ${second.code} and ${overlaps()} overlap lines (want 99 and 1)`);
    }
    first.kill('SIGKILL');
    await waitFor('the first command to end', () => first.exitCode !== null || first.signalCode !== null);
    const after = await runProcess('perl', [script, dir, '1', '0'], 10_000);
    if (after.code !== 0 || overlaps() !== 1) {
      problems.push(`a command started after a SIGKILLed one gave status ${after.code} and ${overlaps()} overlap lines (want 0 and still 1)`);
    }
    const again = await runProcess('perl', [script, dir, '1', '0'], 10_000);
    if (again.code !== 0 || overlaps() !== 1 || starts() !== 3) {
      problems.push(`one command after another gave status ${again.code}, ${overlaps()} overlap lines and ${starts()} starts (want 0, 1 and 3)`);
    }
  } finally {
    first.kill('SIGKILL');
  }
  return problems.length === 0
    ? { ok: true, detail: 'two commands at once: 1 overlap seen; after a SIGKILL and one after another: none' }
    : { ok: false, detail: problems.join('; ') };
}

/**
 * Longer than any wait the lock may impose on a free turn: an unknown holder's heartbeat (10 s) after a touch
 * that dated it up to 30 s ahead, under a loaded machine. Without a transfer for this long, nobody gets in.
 */
const LOCKED_OUT_MS = 60_000;

interface Journal {
  t: number;
  what: string;
}

export async function soak(options: SoakOptions): Promise<SoakReport> {
  const began = Date.now();
  const seed = options.seed ?? (Date.now() % 1_000_000_007);
  const rand = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const rates: FaultRates = { ...DEFAULT_RATES, ...options.rates };
  const workMs = options.workMs ?? 20;
  const termMs = options.termMs ?? 30;
  const log = options.log ?? ((): void => undefined);

  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'task-lock-soak-')));
  const folder = path.join(root, 'folder');
  const det = path.join(root, 'detector');
  const script = path.join(root, 'command.pl');
  fs.mkdirSync(folder);
  fs.mkdirSync(det);
  fs.writeFileSync(script, COMMAND);
  const common = ['--folder', folder, ...(options.lockDir ? ['--lock-dir', options.lockDir] : [])];

  const report: SoakReport = {
    transfers: 0,
    kills: Object.fromEntries(KILL_KINDS.map((k) => [k, 0])) as Record<KillKind, number>,
    touches: 0,
    removals: 0,
    reclaims: 0,
    overlaps: 0,
    overlapDetails: [],
    leftovers: [],
    shapes: { alone: 0, shell: 0, 'stubborn-child': 0 },
    exits: {},
    errors: [],
    selfCheck: await selfCheck(path.join(root, 'self-check'), script),
    seed,
    wallMs: 0,
  };

  // The lock home is found as users find it, not from a path this file would have to know.
  const status = async (): Promise<{ state: string; lockHome: string; [k: string]: unknown }> => {
    const r = await runProcess(process.execPath, [CLI, 'status', '--json', ...common], 30_000);
    try {
      return JSON.parse(r.stdout) as { state: string; lockHome: string };
    } catch {
      return { state: `unreadable status (${r.code ?? r.signal}): ${r.stdout.trim()} ${r.stderr.trim()}`, lockHome: '' };
    }
  };
  const home = (await status()).lockHome;
  const location = new WorkspaceLock(folder, { lockDirectory: options.lockDir }).location;
  if (!home || location.home !== home) {
    throw new Error(`task-lock status --json names the lock home ${home}, the engine ${location.home}`);
  }
  const lockDir = location.lockDir;

  // Written as it happens: a soak that hangs or is killed still leaves its story behind.
  const journal: Journal[] = [];
  const journalFd = fs.openSync(path.join(root, 'journal'), 'a');
  const note = (what: string): void => {
    const j = { t: Date.now(), what };
    journal.push(j);
    if (journal.length > 200) {
      journal.splice(0, 100);
    }
    fs.writeSync(journalFd, `${new Date(j.t).toISOString()} ${what}\n`);
  };

  // The contenders: each slot runs the CLI again and again until enough transfers were seen.
  let stopping = false;
  const live = new Map<number, ChildProcess>();
  const contender = async (slot: number): Promise<void> => {
    while (!stopping) {
      const shape = SHAPES[Math.floor(rand() * SHAPES.length)];
      report.shapes[shape]++;
      const cmd = shaped(shape, ['perl', script, det, String(workMs), String(termMs)]);
      const child = spawn(process.execPath, [CLI, 'run', '--wait', ...common, '--label', `soak-${slot}`, '--', ...cmd.argv], { stdio: ['ignore', 'ignore', 'pipe'], env: cmd.env });
      const pid = child.pid;
      if (pid !== undefined) {
        live.set(pid, child);
      }
      note(`cli ${pid} (${slot}) spawned`);
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
      if (pid !== undefined) {
        live.delete(pid);
      }
      const told = stderr
        .trim()
        .split('\n')
        .filter((l) => l !== '' && !/Waiting for it/.test(l));
      const how = signal ? signal : `exit ${code}`;
      note(`cli ${pid} (${slot}) ended: ${how}${told.length > 0 ? ` | ${told.join(' | ')}` : ''}`);
      report.exits[how] = (report.exits[how] ?? 0) + 1;
      // 99 is the command's own word for an overlap, counted as such; 75 a lost lock, 128+ a signal.
      if (code !== null && code !== 0 && code !== 75 && code !== 99 && code < 128) {
        const message = told.join(' | ');
        if (!report.errors.includes(`${how}: ${message}`) && report.errors.length < 20) {
          report.errors.push(`${how}: ${message}`);
        }
      }
    }
  };

  const kill = (kind: KillKind, pids: Array<number | undefined>): void => {
    let any = false;
    for (const pid of pids) {
      any = killOurs(root, pid) || any;
    }
    if (any) {
      report.kills[kind]++;
      note(`kill ${kind} ${pids.join(',')}`);
    }
  };

  const touch = (): void => {
    const entries = listing(home);
    // The lock folder half the time: its mtime is proper-lockfile's heartbeat.
    const target = rand() < 0.5 ? lockDir : path.join(home, pick(entries.length > 0 ? entries : ['.']));
    const t = Date.now() / 1000 + pick([0, 0, 3600, -3600, rand() * 60 - 30]);
    try {
      // touch -c: a backup or sync client dates what exists; it creates nothing.
      fs.utimesSync(target, t, t);
      report.touches++;
      note(`touch ${path.basename(target)} ${t.toFixed(0)}`);
    } catch {
      // Gone meanwhile.
    }
  };

  const remove = (): void => {
    try {
      fs.rmSync(home, { recursive: true, force: true });
    } catch {
      // A contender made something in it meanwhile: rm -rf fails the same way at times.
    }
    report.removals++;
    note('rm -rf lock home');
  };

  const pendingReclaims = new Set<Promise<void>>();
  const reclaim = (): void => {
    report.reclaims++;
    note('reclaim --force');
    const p = runProcess(process.execPath, [CLI, 'reclaim', '--force', ...common], 60_000).then((r) => {
      note(`reclaim --force ended: ${r.code ?? r.signal} ${r.stdout.trim()} ${r.stderr.trim()}`);
    });
    pendingReclaims.add(p);
    void p.finally(() => pendingReclaims.delete(p));
  };

  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!stopping) {
        fn();
      }
    }, ms);
    timers.add(timer);
  };

  // Each transfer (a command's start line) draws its faults, at random moments of that command's work.
  const onStart = (cmdPid: number, cliPid: number): void => {
    const within = (): number => rand() * (workMs + 5);
    if (rand() < rates.kill) {
      const kind = pick(['cli', 'cmd', 'both'] as const);
      later(within(), () => kill(kind, kind === 'cli' ? [cliPid] : kind === 'cmd' ? [cmdPid] : [cmdPid, cliPid]));
    }
    if (rand() < rates.killWaiter) {
      later(within(), () => {
        const waiting = [...live.keys()].filter((p) => p !== cliPid);
        if (waiting.length > 0) {
          kill('waiter', [pick(waiting)]);
        }
      });
    }
    if (rand() < rates.touch) {
      later(within(), touch);
    }
    if (rand() < rates.remove) {
      later(within(), remove);
    }
    if (rand() < rates.reclaim) {
      later(within(), reclaim);
    }
  };

  // The record tells the moments that matter right after a spawn: a holder recorded without its command's pid
  // (the gate being spawned), then the pid recorded (the gate about to open).
  const seenTokens = new Set<string>();
  let homeWatch: fs.FSWatcher | undefined;
  const onRecord = (): void => {
    let rec: { token?: string; pid?: number; tasks?: Array<{ pid: number }> };
    try {
      rec = JSON.parse(fs.readFileSync(path.join(home, 'holder.json'), 'utf8')) as typeof rec;
    } catch {
      return;
    }
    if (typeof rec.token !== 'string' || stopping) {
      return;
    }
    const tasks = rec.tasks ?? [];
    const key = `${rec.token}:${tasks.length}`;
    if (seenTokens.has(key)) {
      return;
    }
    seenTokens.add(key);
    if (tasks.length === 0 && rand() < rates.killEarly) {
      kill('cli-before-record', [rec.pid]);
    } else if (tasks.length > 0 && rand() < rates.killGate) {
      kill('cmd-at-gate', [tasks[0].pid]);
    }
  };
  let watchedHome = '';
  const homeIdentity = (): string => {
    const st = fs.statSync(home, { throwIfNoEntry: false });
    return st ? `${st.dev}:${st.ino}:${st.birthtimeMs}` : 'none';
  };
  const watchHome = (): void => {
    // A watch follows the folder, not the path: after an rm -rf of the lock home it hears nothing, and says nothing.
    if (homeWatch && homeIdentity() !== watchedHome) {
      homeWatch.close();
      homeWatch = undefined;
    }
    if (homeWatch || stopping) {
      return;
    }
    try {
      watchedHome = homeIdentity();
      homeWatch = fs.watch(home, { persistent: false }, onRecord);
      homeWatch.on('error', () => {
        homeWatch?.close();
        homeWatch = undefined;
      });
    } catch {
      homeWatch = undefined;
    }
  };

  const starts = new Tail(path.join(det, 'starts'));
  const overlaps = new Tail(path.join(det, 'overlaps'));
  const readDetector = (): void => {
    for (const line of starts.read()) {
      const [, cmd, cli] = line.split(' ');
      report.transfers++;
      note(`start cmd ${cmd} under cli ${cli}`);
      if (report.transfers >= options.transfers) {
        stopping = true;
      } else {
        onStart(Number(cmd), Number(cli));
      }
    }
    for (const line of overlaps.read()) {
      report.overlaps++;
      note(`OVERLAP ${line}`);
      const recent = journal
        .slice(-12)
        .map((j) => `  ${new Date(j.t).toISOString().slice(11, 23)} ${j.what}`)
        .join('\n');
      report.overlapDetails.push(`${line} (command pid, its parent, the pid holding the detector's flock), after:\n${recent}`);
    }
  };

  log(`soak: ${options.transfers} transfers, ${options.procs} contenders, seed ${seed}, lock home ${home}`);
  const slots = Array.from({ length: options.procs }, (_, i) => contender(i));
  let lastLog = Date.now();
  let lastTransfers = 0;
  let lastTransferAt = Date.now();
  let looked = 0;
  while (!stopping) {
    watchHome();
    readDetector();
    const now = Date.now();
    if (report.transfers !== lastTransfers) {
      lastTransfers = report.transfers;
      lastTransferAt = now;
      looked = 0;
    }
    // No transfer for a while: the journal gets what the lock looked like, as the contenders see it.
    const quiet = now - lastTransferAt;
    if (quiet > (looked + 1) * 5_000) {
      looked++;
      const s = await status();
      const entries = listing(home).map((n) => `${n}@${new Date(fs.statSync(path.join(home, n), { throwIfNoEntry: false })?.mtimeMs ?? 0).toISOString()}`);
      note(`no transfer for ${quiet} ms: ${JSON.stringify(s)}; home: ${entries.join(' ')}; contenders: ${[...live.keys()].join(',')}`);
      if (quiet > LOCKED_OUT_MS) {
        report.leftovers.push(`locked out: no transfer for ${Math.round(quiet / 1000)} s with ${live.size} contenders waiting; status: ${JSON.stringify(s)}; lock home: ${entries.join(' ')}`);
        stopping = true;
        for (const c of live.values()) {
          c.kill('SIGKILL');
        }
      }
    }
    if (now - lastLog > 5_000) {
      lastLog = now;
      log(`soak: ${report.transfers} transfers, ${report.overlaps} overlaps, ${Math.round((now - began) / 1000)} s`);
    }
    await sleep(3);
  }
  homeWatch?.close();
  for (const t of timers) {
    clearTimeout(t);
  }

  // Draining: no new contender starts; those waiting must all get the lock in turn and end by themselves.
  let drainTimer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    Promise.all(slots).then(() => true),
    new Promise<boolean>((resolve) => (drainTimer = setTimeout(() => resolve(false), 120_000))),
  ]);
  clearTimeout(drainTimer);
  if (!drained) {
    const s = await status();
    report.leftovers.push(`contenders still running 120 s after the end (locked out?): ${[...live.keys()].join(', ')}; status: ${JSON.stringify(s)}`);
    for (const c of live.values()) {
      c.kill('SIGKILL');
    }
    await Promise.all(slots);
  }
  await Promise.all([...pendingReclaims]);
  // Orphaned commands (their CLI was killed) finish their short work by themselves.
  const stragglers = await waitFor('the soak\'s processes to end', () => soakProcesses(root).length === 0 || undefined, { timeoutMs: 10_000 }).then(
    () => [],
    () => soakProcesses(root),
  );
  for (const p of stragglers) {
    report.leftovers.push(`process ${p.pid} still running: ${p.cmd}`);
    killOurs(root, p.pid);
  }
  readDetector();

  const end = await status();
  if (end.state !== 'free') {
    report.leftovers.push(`status after the soak: ${JSON.stringify(end)}`);
  }
  if (fs.existsSync(lockDir)) {
    report.leftovers.push(`the lock folder ${lockDir} is still there`);
  }
  const last = await runProcess(process.execPath, [CLI, 'run', ...common, '--', 'true'], 15_000);
  if (last.code !== 0) {
    report.leftovers.push(`a last "run -- true" did not get the lock at once: ${last.code ?? last.signal} ${last.stderr.trim()}`);
  }
  // After one ordinary run a lock home holds the ignore file the CLI creates and nothing else: no temporary
  // file, no reclaim mutex, no record (a record left by a killed holder is replaced and removed by that run).
  const expected = new Set(['.gitignore']);
  for (const name of listing(home)) {
    if (!expected.has(name)) {
      report.leftovers.push(`left in the lock home: ${name}`);
    }
  }
  for (const p of soakProcesses(root)) {
    report.leftovers.push(`process ${p.pid} still running after the last run: ${p.cmd}`);
    killOurs(root, p.pid);
  }

  report.wallMs = Date.now() - began;
  fs.closeSync(journalFd);
  if (options.keep || report.overlaps > 0 || report.leftovers.length > 0) {
    report.kept = root;
  } else {
    // The lock home lives in the user's cache (unless --lock-dir put it under the root): not left there.
    if (home !== '' && !home.startsWith(root + path.sep)) {
      fs.rmSync(home, { recursive: true, force: true });
    }
    fs.rmSync(root, { recursive: true, force: true });
  }
  return report;
}

/** Whether the soak kept the lock's promise: no overlap, nothing left behind, and a detector proven to see. */
export function soakPassed(r: SoakReport): boolean {
  return r.selfCheck.ok && r.overlaps === 0 && r.leftovers.length === 0;
}

export function formatReport(r: SoakReport): string {
  const kills = KILL_KINDS.map((k) => `${k} ${r.kills[k]}`).join(', ');
  const total = KILL_KINDS.reduce((n, k) => n + r.kills[k], 0);
  const lines = [
    `transfers:  ${r.transfers}`,
    `kills:      ${total} (${kills})`,
    `touches:    ${r.touches}`,
    `removals:   ${r.removals} (rm -rf of the lock home)`,
    `reclaims:   ${r.reclaims} (reclaim --force)`,
    `shapes:     ${SHAPES.map((s) => `${s} ${r.shapes[s]}`).join(', ')}`,
    `CLI ends:   ${Object.entries(r.exits)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ×${n}`)
      .join(', ')}`,
    `self-check: ${r.selfCheck.ok ? 'ok' : 'FAILED'} (${r.selfCheck.detail})`,
    `overlaps:   ${r.overlaps}`,
    `leftovers:  ${r.leftovers.length}`,
    `wall time:  ${(r.wallMs / 1000).toFixed(1)} s`,
    `seed:       ${r.seed}`,
  ];
  for (const e of r.errors) {
    lines.push(`error: ${e}`);
  }
  for (const o of r.overlapDetails) {
    lines.push(`overlap: ${o}`);
  }
  for (const l of r.leftovers) {
    lines.push(`leftover: ${l}`);
  }
  if (r.kept) {
    lines.push(`kept: ${r.kept} (journal, detector files)`);
  }
  return lines.join('\n');
}
