// The small scripts that put the bundled CLI on PATH (the extension writes them; see src/ui/cliOnPath.ts).

/** Set by the launchers: ELECTRON_RUN_AS_NODE is theirs, and must not reach the commands the CLI runs. */
export const LAUNCHED = 'TASK_LOCK_LAUNCHER';

/**
 * Under a launcher, ELECTRON_RUN_AS_NODE made the editor's runtime a plain Node for the CLI; inherited by
 * `task-lock run -- CMD`, it would turn any Electron program CMD starts (an editor, a test runner) into one.
 */
export function forgetLauncherEnv(env: NodeJS.ProcessEnv): void {
  if (env[LAUNCHED] === '1') {
    delete env[LAUNCHED];
    delete env.ELECTRON_RUN_AS_NODE;
  }
}

/** A POSIX shell word that stays one word whatever the path holds. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The launchers run `dist/cli.js` with the editor's own runtime: Node under code-server and remote servers,
 * Electron on the desktop, where ELECTRON_RUN_AS_NODE=1 makes it a plain Node (and Node ignores it).
 */
export function launchers(runtime: string, cli: string): { posix: string; cmd: string } {
  return {
    posix: `#!/bin/sh\n# Written by the Task Lock extension: its bundled CLI, run by the editor's own runtime.\n${LAUNCHED}=1 ELECTRON_RUN_AS_NODE=1 exec ${shellQuote(runtime)} ${shellQuote(cli)} "$@"\n`,
    // setlocal: the variables must not stay in the user's cmd session; %% keeps a % in a path literal.
    cmd: `@echo off\r\nrem Written by the Task Lock extension: its bundled CLI, run by the editor's own runtime.\r\nsetlocal\r\nset ELECTRON_RUN_AS_NODE=1\r\nset ${LAUNCHED}=1\r\n"${runtime.replace(/%/g, '%%')}" "${cli.replace(/%/g, '%%')}" %*\r\n`,
  };
}
