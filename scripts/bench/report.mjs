// The bench's report. The targets are data (ROWS); each verdict is computed from its row; the Markdown
// table is rendered from the rows. `r`, the results, is what index.mjs measured:
//   uncontended: { ours, raw }       acquire + release times (ms)
//   failover, handoff                times (ms) of Task Lock's rounds
//   waiters: { 1|10|50: { ms, winners, unsettled } }   failover with that many waiters: per round, the time
//                                    (ms) until the first waiter held the lock and how many held it; and
//                                    how many losers did not report the winner in time, over all rounds
//   idle: { minutes, beats: { ours, raw }, io: { holder, follower, rawHolder }, strace: { same keys },
//           followerEvents, rawFailover, crossHost }   the idle period, and what ran during it: raw
//                                    failover's times (ms), and cross-host failover:
//                                    { staleMs, updateMs, killToHeld, beatToHeld, skipped? } (times in ms)
//   tookMs                           how long the whole bench took
//   load: { start, end }             the machine's 1-minute load average when the bench started and ended
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { max, median, min, p95, perMinute } from './stats.mjs';

function ms(v, digits = 2) {
  return Number.isFinite(v) ? `${v.toFixed(digits)} ms` : 'n/a';
}

/** A count during the idle period, shown per minute. */
function rate(count, minutes) {
  const v = perMinute(count, minutes);
  return Number.isFinite(v) ? `${Math.round(v)}` : 'n/a';
}

const times = (v) => `${v.toFixed(2)}×`;

function secs(v) {
  return Number.isFinite(v) ? `${(v / 1000).toFixed(2)} s` : 'n/a';
}

/** "median (min–max)" of samples in ms, shown in seconds. */
function secsRange(values) {
  return values.length === 0 ? 'n/a' : `${secs(median(values))} (${secs(min(values))}–${secs(max(values))})`;
}

/** Cross-host rows show why they were skipped in place of a figure. */
function crossHostCell(f) {
  return (r) => (r.idle.crossHost.skipped ? `skipped: ${r.idle.crossHost.skipped}` : f(r.idle.crossHost));
}

/** Same-host failover with n waiters: "median / p95". */
function waitersCell(n) {
  return (r) => `${ms(median(r.waiters[n].ms), 0)} / ${ms(p95(r.waiters[n].ms), 0)}`;
}

/**
 * The cross-host bound. The follower may take a foreign lock only once its heartbeat is older than stale
 * (README, Liveness), and it looks at that moment (its watcher's timer, 20 ms after it, then one
 * acquisition: tens of ms). MARGIN_MS leaves ten times that for a late timer on a loaded machine, and
 * stays below the heartbeat interval (update, at least 1 s): a follower that missed the stale moment and
 * woke one check later would be over by about an update, and fail here.
 */
export const CROSS_HOST_MARGIN_MS = 500;

/** What a process wrote during the idle period: modifying calls seen by strace, bytes seen by /proc io. */
function writes(r, who) {
  const m = r.idle.minutes;
  const s = r.idle.strace[who];
  const io = r.idle.io[who];
  const parts = [];
  if (s) {
    parts.push(`${rate(s.modifying, m)} modifying fs calls (${rate(s.utimes, m)} utimes)`);
  }
  if (io) {
    parts.push(`${rate(io.writeBytes, m)} B to storage`);
  }
  return parts.length ? parts.join('; ') : 'n/a';
}

/** The follower's file-system calls (any at all would mean polling), by name; /proc read calls without strace. */
function followerFsCalls(r) {
  const m = r.idle.minutes;
  const s = r.idle.strace.follower;
  if (s) {
    // Per call name: counts over the whole idle period; the two totals: per minute.
    const which = Object.entries(s.fsCalls).map(([n, c]) => `${n} ${c}`).join(', ');
    return `${rate(s.fs, m)}${which ? ` (${which})` : ''}; ${rate(s.total, m)} syscalls in all`;
  }
  const io = r.idle.io.follower;
  return io ? `${rate(io.syscr, m)} read calls (/proc io; strace n/a)` : 'n/a';
}

/**
 * One table row each. `measure`, `ours` (Task Lock) and `raw` (raw proper-lockfile) are the cells: text,
 * or a function of the results. `target` is the target as shown; `judge` says how it is met: the row's
 * `value` (a function of the results; an array when every sample must meet the target) must be at most
 * `atMost` and at least `atLeast` (each optional; a number or a function of the results); `shown`, if
 * given, formats a single value beside the verdict. A value that could not be measured (undefined, NaN,
 * an empty array) gives n/a. A row without `judge` has no target.
 */
export const ROWS = [
  {
    measure: (r) => `uncontended acquire + release, median (n=${r.uncontended.ours.length})`,
    ours: (r) => ms(median(r.uncontended.ours)),
    raw: (r) => ms(median(r.uncontended.raw)),
    target: '≤ 2× raw',
    judge: { value: (r) => median(r.uncontended.ours) / median(r.uncontended.raw), atMost: 2, shown: times },
  },
  {
    measure: 'uncontended acquire + release, p95',
    ours: (r) => ms(p95(r.uncontended.ours)),
    raw: (r) => ms(p95(r.uncontended.raw)),
    target: '≤ 2× raw',
    judge: { value: (r) => p95(r.uncontended.ours) / p95(r.uncontended.raw), atMost: 2, shown: times },
  },
  {
    measure: (r) => `same-host failover (SIGKILL holder + task → next holder), median (n=${r.failover.length}; raw n=${r.idle.rawFailover.length})`,
    ours: (r) => ms(median(r.failover), 0),
    raw: (r) => ms(median(r.idle.rawFailover), 0),
    target: '≤ 100 ms',
    judge: { value: (r) => median(r.failover), atMost: 100 },
  },
  {
    measure: 'same-host failover, p95 (raw: max)',
    ours: (r) => ms(p95(r.failover), 0),
    raw: (r) => ms(max(r.idle.rawFailover), 0),
  },
  {
    measure: (r) => `same-host failover, 1 waiter (SIGKILL holder + task → first waiter holds), median / p95 (n=${r.waiters[1].ms.length})`,
    ours: waitersCell(1),
    raw: 'n/a (waits out stale, as above)',
  },
  {
    measure: (r) => `same-host failover, 10 waiters, median / p95 (n=${r.waiters[10].ms.length})`,
    ours: waitersCell(10),
    raw: 'n/a',
  },
  {
    measure: (r) => `same-host failover, 50 waiters, median / p95 (n=${r.waiters[50].ms.length})`,
    ours: waitersCell(50),
    raw: 'n/a',
    target: '≤ 2× 1 waiter (median)',
    judge: { value: (r) => median(r.waiters[50].ms) / median(r.waiters[1].ms), atMost: 2, shown: times },
  },
  {
    measure: 'same-host failover, waiters holding the lock after each round (1 / 10 / 50 waiters)',
    ours: (r) =>
      Object.entries(r.waiters)
        .map(([n, w]) => `${n}: ${w.winners.filter((c) => c === 1).length}/${w.winners.length} rounds with 1${w.winners.some((c) => c !== 1) ? ` (${w.winners.join(' ')})` : ''}`)
        .join('; '),
    raw: 'n/a',
    target: 'exactly 1, every round',
    judge: { value: (r) => Object.values(r.waiters).flatMap((w) => w.winners), atLeast: 1, atMost: 1 },
  },
  {
    measure: (r) =>
      `cross-host failover, simulated (holder in its own UTS + PID namespace, stale ${secs(r.idle.crossHost.staleMs)}): SIGKILL → follower holds, median (min–max) (n=${r.idle.crossHost.killToHeld.length})`,
    ours: crossHostCell((c) => secsRange(c.killToHeld)),
    raw: 'n/a (no hosts: waits out stale, as above)',
    target: `stale − update < t ≤ stale + ${secs(CROSS_HOST_MARGIN_MS)}, every round`,
    judge: {
      value: (r) => (r.idle.crossHost.skipped ? undefined : r.idle.crossHost.killToHeld),
      // Strictly above: the kill comes at most one heartbeat interval after the last heartbeat.
      atLeast: (r) => r.idle.crossHost.staleMs - r.idle.crossHost.updateMs + 1,
      atMost: (r) => r.idle.crossHost.staleMs + CROSS_HOST_MARGIN_MS,
    },
  },
  {
    measure: 'cross-host failover: last heartbeat → follower holds, median (min–max)',
    ours: crossHostCell((c) => secsRange(c.beatToHeld)),
    raw: 'n/a',
    target: `stale ≤ t ≤ stale + ${secs(CROSS_HOST_MARGIN_MS)}, every round`,
    judge: {
      value: (r) => (r.idle.crossHost.skipped ? undefined : r.idle.crossHost.beatToHeld),
      atLeast: (r) => r.idle.crossHost.staleMs,
      atMost: (r) => r.idle.crossHost.staleMs + CROSS_HOST_MARGIN_MS,
    },
  },
  {
    measure: (r) => `cooperative handoff, request → new holder, median (n=${r.handoff.length})`,
    ours: (r) => ms(median(r.handoff), 1),
    raw: 'n/a (no handoff)',
    target: '≤ 50 ms',
    judge: { value: (r) => median(r.handoff), atMost: 50 },
  },
  {
    measure: 'cooperative handoff, p95',
    ours: (r) => ms(p95(r.handoff), 1),
    raw: 'n/a',
  },
  {
    measure: 'holder heartbeats / min (distinct lock-dir mtimes)',
    ours: (r) => rate(r.idle.beats.ours, r.idle.minutes),
    raw: (r) => rate(r.idle.beats.raw, r.idle.minutes),
    target: '≤ 12',
    // One heartbeat every 5 s; the half is room for an idle period a little longer or shorter than whole minutes.
    judge: { value: (r) => perMinute(r.idle.beats.ours, r.idle.minutes), atMost: 12.5 },
  },
  {
    measure: 'holder disk writes / min',
    ours: (r) => writes(r, 'holder'),
    raw: (r) => writes(r, 'rawHolder'),
  },
  {
    measure: 'follower disk writes / min',
    ours: (r) => writes(r, 'follower'),
    raw: 'n/a (no watch API)',
    target: '0',
    judge: { value: (r) => (r.idle.io.follower?.writeBytes ?? 0) + (r.idle.strace.follower?.modifying ?? 0), atMost: 0 },
  },
  {
    measure: 'follower file-system syscalls / min (polling?)',
    ours: followerFsCalls,
    raw: 'n/a (would poll check())',
    target: '0, no polling',
    // Only strace sees them; /proc io's read calls include the follower's socket and event reads.
    judge: { value: (r) => r.idle.strace.follower?.fs, atMost: 0 },
  },
];

const HEADER = ['measure', 'Task Lock', 'raw proper-lockfile', 'target', 'met?'];

function cell(v, r) {
  return typeof v === 'function' ? v(r) : v;
}

/** 'yes', '**no**', 'n/a' (not measured) or '—' (no target); with the judged number where the row shows it. */
export function verdict(row, r) {
  if (!row.judge) {
    return '—';
  }
  const { value, atMost, atLeast, shown } = row.judge;
  const v = value(r);
  const values = Array.isArray(v) ? v : [v];
  if (values.length === 0 || values.some((x) => x === undefined || Number.isNaN(x))) {
    return 'n/a';
  }
  const bound = (b) => (typeof b === 'function' ? b(r) : b);
  const [lo, hi] = [bound(atLeast) ?? -Infinity, bound(atMost) ?? Infinity];
  const met = values.every((x) => x >= lo && x <= hi) ? 'yes' : '**no**';
  return shown && !Array.isArray(v) ? `${met} (${shown(v)})` : met;
}

/** The table's cells, row by row, in HEADER's order. */
export function table(r, rows = ROWS) {
  return rows.map((row) => [cell(row.measure, r), cell(row.ours, r), cell(row.raw, r), row.judge ? row.target : '—', verdict(row, r)]);
}

function machineLine(r) {
  let fsType = 'unknown';
  try {
    fsType = execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', os.tmpdir()], { encoding: 'utf8' }).trim();
  } catch {
    try {
      fsType = execFileSync('df', ['-T', os.tmpdir()], { encoding: 'utf8' }).trim().split('\n').pop().split(/\s+/)[1];
    } catch {
      // Left as unknown.
    }
  }
  const cpus = os.cpus();
  return `Machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, Node ${process.version}, ${os.type()} ${os.release()}, temp dir ${os.tmpdir()} on ${fsType}, load average ${r.load.start.toFixed(1)} at the start, ${r.load.end.toFixed(1)} at the end`;
}

/** The whole report: the Markdown table, then the machine and the notes that the figures need. */
export function renderReport(r) {
  const lines = [];
  lines.push(`| ${HEADER.join(' | ')} |`);
  lines.push(`|${HEADER.map(() => '---|').join('')}`);
  for (const cells of table(r)) {
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push('');
  lines.push(machineLine(r));
  lines.push(`Bench took ${Math.round(r.tookMs / 1000)} s. Follower events seen: ${JSON.stringify(r.idle.followerEvents)}.`);
  lines.push(`Raw failover waiter: proper-lockfile defaults (stale 10 s, update 5 s) retrying every 100 ms. Failover samples (ms): ours ${r.failover.join(', ')}; raw ${r.idle.rawFailover.join(', ')}.`);
  lines.push(
    `Failover with many waiters: a \`task-lock run\` holder, the waiters on the engine's acquire, each keeping what it wins; from the bench's Date.now() before the SIGKILL to the first winner's Date.now() on holding. Samples (ms): ${Object.entries(r.waiters)
      .map(([n, w]) => `${n} waiter${n === '1' ? '' : 's'} ${w.ms.join(', ')}`)
      .join('; ')}.${Object.values(r.waiters).some((w) => w.unsettled > 0) ? ` Losers that did not report the winner within 15 s: ${Object.entries(r.waiters).map(([n, w]) => `${n} waiters ${w.unsettled}`).join(', ')}.` : ''}`,
  );
  const c = r.idle.crossHost;
  lines.push(
    c.skipped
      ? `Cross-host failover skipped: ${c.skipped}.`
      : `Cross-host failover: \`task-lock run --stale ${c.staleMs / 1000}\` under \`unshare --uts --pid --fork --kill-child --mount-proc\` with its own hostname, an engine follower on this host; heartbeat every ${secs(c.updateMs)}; killed at a random moment of it, so from the kill the failover takes between stale − update and stale. Samples (ms), kill → held: ${c.killToHeld.map(Math.round).join(', ')}; last heartbeat → held: ${c.beatToHeld.map(Math.round).join(', ')}.`,
  );
  lines.push('"B to storage" is /proc/<pid>/io write_bytes, which the kernel charges at writeback, up to ~30 s after a write: a holder\'s one-time record write at acquisition can land in the idle minute.');
  return `${lines.join('\n')}\n`;
}
