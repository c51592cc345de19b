// The idle-cost probes: strace counts what a process asks of the file system (does a follower poll? does a
// holder write?), /proc/<pid>/io is the fallback without strace, and the lock folder's change events count
// a holder's heartbeats.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { start, stop, until } from './procs.mjs';

export function hasStrace() {
  if (process.platform !== 'linux') {
    return false;
  }
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Starts tracing pid into file; `attached` resolves once strace is attached (or has given up). */
export function startStrace(pid, file) {
  // -f: libuv runs file-system calls on its thread pool, whose threads must be traced too.
  // -y: names each descriptor's file, so that a write to a file is told from a thread waking another.
  const child = start('strace', ['-f', '-y', '-o', file, '-p', String(pid)], `strace of ${pid}`);
  const attached = until(() => /attached/.test(child.stderrText) || child.exitCode !== null, 5000, `strace to attach to ${pid}`).catch(() => undefined);
  return { child, file, attached };
}

/** Detaches strace (SIGINT) and classifies its log; `counts` is undefined when the log is unreadable. */
export async function stopStrace(s) {
  s.child.kill('SIGINT');
  await Promise.race([s.child.exited, sleep(5000)]);
  await stop(s.child);
  return { counts: parseStrace(s.file), errText: s.child.stderrText.trim() };
}

// Calls that name a file: a follower that polled the lock would make them.
const PATH_CALLS = /^(stat|lstat|newfstatat|fstatat64|statx|open|openat|openat2|access|faccessat2?|readlinkat?|getdents64|utimensat|utimes|futimesat|mkdirat?|rmdir|unlinkat?|renameat2?|rename|truncate)$/;
const MODIFYING_CALLS = /^(utimensat|utimes|futimesat|mkdirat?|rmdir|unlinkat?|renameat2?|rename|truncate|ftruncate|fsync|fdatasync)$/;
const FD_IO_CALLS = /^(read|pread64|readv|preadv2?|write|pwrite64|writev|pwritev2?)$/;

/**
 * Classifies an strace log: every call by name; calls on files (by path, or on a descriptor that `-y`
 * shows as a path); and the ones that modify the disk. Writes to eventfds, pipes and sockets are wake-ups
 * between threads and processes, not disk writes. Counts are over the whole trace, not per minute.
 */
export function parseStrace(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const calls = {};
  const fsCalls = {};
  let modifying = 0;
  let utimes = 0;
  for (const line of text.split('\n')) {
    const m = /^(?:\d+\s+)?([a-z_0-9]+)\((.*)$/.exec(line);
    if (!m) {
      continue;
    }
    const [, name, args] = m;
    calls[name] = (calls[name] ?? 0) + 1;
    const onFile = /^-?\d+<\//.test(args);
    const onDiskFile = onFile && !/^-?\d+<\/(proc|dev|sys)\//.test(args);
    const isWrite = /^(write|pwrite64|writev|pwritev2?)$/.test(name);
    if (PATH_CALLS.test(name) || (FD_IO_CALLS.test(name) && onFile)) {
      fsCalls[name] = (fsCalls[name] ?? 0) + 1;
    }
    const opensForWrite = /^open/.test(name) && /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(args);
    if (MODIFYING_CALLS.test(name) || opensForWrite || (isWrite && onDiskFile)) {
      modifying++;
    }
    if (/^(utimensat|utimes|futimesat)$/.test(name)) {
      utimes++;
    }
  }
  const sum = (o) => Object.values(o).reduce((t, c) => t + c, 0);
  return { total: sum(calls), fs: sum(fsCalls), fsCalls, modifying, utimes, calls };
}

/** /proc/<pid>/io as numbers; undefined where there is none. */
export function procIo(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
    return Object.fromEntries(text.trim().split('\n').map((l) => l.split(/:\s*/)).map(([k, v]) => [k, Number(v)]));
  } catch {
    return undefined;
  }
}

export function ioDelta(a, b) {
  return a && b ? { syscw: b.syscw - a.syscw, writeBytes: b.write_bytes - a.write_bytes, syscr: b.syscr - a.syscr } : undefined;
}

/** Distinct mtimes of a lock directory, seen through the folder's own change events; call the result to stop. */
export function sampleHeartbeats(home, lockDirName) {
  const lockDir = path.join(home, lockDirName);
  const mtimes = new Set();
  const initial = fs.statSync(lockDir).mtimeMs;
  const w = fs.watch(home, (_event, name) => {
    if (name === lockDirName) {
      try {
        mtimes.add(fs.statSync(lockDir).mtimeMs);
      } catch {
        // Released meanwhile.
      }
    }
  });
  return () => {
    w.close();
    mtimes.delete(initial);
    return mtimes.size;
  };
}
