import * as fs from 'node:fs';

/** The environment variable that marks every process the harness starts, and all their descendants. */
export const markerVariable = 'TASK_LOCK_HARNESS_RUN';

export type ProcessKind =
  | 'code-server'
  | 'extensionHost'
  | 'ptyHost'
  | 'fileWatcher'
  | 'chromium'
  | 'task'
  | 'other';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  /** The marker value from the process' start environment, or undefined for unmarked processes. */
  marker: string | undefined;
  cmdline: string;
  kind: ProcessKind;
}

/**
 * Every live process on the machine, read from /proc. Reading the environment (to find the marker)
 * needs the same user or root; other users' processes come back unmarked.
 */
export function listProcesses(): ProcessInfo[] {
  const result: ProcessInfo[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    const pid = Number(entry);
    const info = readProcess(pid);
    if (info !== undefined) {
      result.push(info);
    }
  }
  return result;
}

export function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may itself contain spaces or parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') {
      return undefined;
    }
    const ppid = Number(fields[1]);
    const pgid = Number(fields[2]);
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s.length > 0).join(' ');
    let marker: string | undefined;
    try {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
      for (const kv of environ.split('\0')) {
        if (kv.startsWith(`${markerVariable}=`)) {
          marker = kv.slice(markerVariable.length + 1);
          break;
        }
      }
    } catch {
      marker = undefined;
    }
    return { pid, ppid, pgid, marker, cmdline, kind: kindOf(cmdline) };
  } catch {
    return undefined;
  }
}

function kindOf(cmdline: string): ProcessKind {
  if (cmdline.includes('--type=extensionHost')) {
    return 'extensionHost';
  }
  if (cmdline.includes('--type=ptyHost')) {
    return 'ptyHost';
  }
  if (cmdline.includes('--type=fileWatcher')) {
    return 'fileWatcher';
  }
  if (cmdline.includes('code-server/out/node/entry')) {
    return 'code-server';
  }
  if (cmdline.includes('chromium') || cmdline.includes('chrome_crashpad')) {
    return 'chromium';
  }
  return 'other';
}

/** Processes whose marker starts with the prefix, with shells and commands under a ptyHost labelled 'task'. */
export function markedProcesses(prefix: string): ProcessInfo[] {
  const all = listProcesses();
  const byPid = new Map(all.map((p) => [p.pid, p]));
  const marked = all.filter((p) => p.marker !== undefined && p.marker.startsWith(prefix) && p.pid !== process.pid);
  for (const p of marked) {
    // A child between fork and exec still shows its parent's command line: an extension host that
    // runs `git` has, for some milliseconds, a child that looks like a second extension host. The
    // harness once took such a child for a new window's extension host.
    const parent = byPid.get(p.ppid);
    if (p.kind !== 'other' && parent !== undefined && parent.cmdline === p.cmdline) {
      p.kind = 'other';
    }
  }
  for (const p of marked) {
    if (p.kind === 'other' && hasAncestor(p, byPid, (a) => a.kind === 'ptyHost')) {
      p.kind = 'task';
    }
  }
  return marked;
}

/** The live descendants of a process (not the process itself). */
export function descendants(rootPid: number, all: ProcessInfo[] = listProcesses()): ProcessInfo[] {
  const children = new Map<number, ProcessInfo[]>();
  for (const p of all) {
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }
  const out: ProcessInfo[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    for (const child of children.get(pid) ?? []) {
      out.push(child);
      queue.push(child.pid);
    }
  }
  return out;
}

function hasAncestor(p: ProcessInfo, byPid: Map<number, ProcessInfo>, test: (a: ProcessInfo) => boolean): boolean {
  let current = byPid.get(p.ppid);
  for (let depth = 0; current !== undefined && depth < 64; depth++) {
    if (test(current)) {
      return true;
    }
    current = byPid.get(current.ppid);
  }
  return false;
}

/**
 * SIGKILLs the processes and their process groups. Stopping them first keeps a parent from
 * starting new children while its siblings die, and keeps orphans from slipping out of sight.
 * Never signals the caller's own process group.
 */
export function killAll(pids: number[]): void {
  const ownGroup = readProcess(process.pid)?.pgid;
  const targets = pids.filter((pid) => pid !== process.pid && pid > 1);
  for (const pid of targets) {
    signal(pid, 'SIGSTOP');
  }
  for (const pid of targets) {
    const info = readProcess(pid);
    if (info !== undefined && info.pgid > 1 && info.pgid !== ownGroup) {
      signal(-info.pgid, 'SIGKILL');
    }
    signal(pid, 'SIGKILL');
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

export function describeProcess(p: ProcessInfo): string {
  return `${p.pid} (${p.kind}) ${p.cmdline.slice(0, 160)}`;
}
