// The gate a guarded command starts behind, shared by the CLI and the extension's `taskLock` task type.
import type { ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';

/**
 * A shell that waits on an inherited pipe (fd 3) until the starter has recorded its pid in the lock, then
 * `exec`s the command, which keeps that pid and its start time. If the starter dies first (a SIGKILL between
 * spawn and record), the pipe closes, `read` fails and the command never runs: it cannot run unrecorded.
 */
const GATE_SCRIPT = 'read -r _ <&3 || exit 125; exec 3<&-; exec "$@"';

/** The gate's exit status when it closed without being opened. */
export const GATE_CLOSED_STATUS = 125;

/** Windows has no POSIX shell to gate with: there the record follows the spawn, as it always did. */
export const canGate = process.platform !== 'win32';

/** The program and arguments that run `argv` behind the gate (give the child a pipe as fd 3). */
export function gatedCommand(argv: readonly string[]): { file: string; args: string[] } {
  return { file: '/bin/sh', args: ['-c', GATE_SCRIPT, 'task-lock', ...argv] };
}

/** Lets the command run: call only once its pid is in the lock's record. */
export function openGate(child: ChildProcess): void {
  const gate = child.stdio[3] as Writable | null | undefined;
  // A gate that died first (a signal) closed its end: EPIPE there is no error of the starter's.
  gate?.on('error', () => undefined);
  gate?.end('go\n');
}
