// The small scripts that put the bundled CLI on PATH (the extension writes them; see src/ui/cliOnPath.ts).

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
    posix: `#!/bin/sh\n# Written by the Task Lock extension: its bundled CLI, run by the editor's own runtime.\nELECTRON_RUN_AS_NODE=1 exec ${shellQuote(runtime)} ${shellQuote(cli)} "$@"\n`,
    cmd: `@echo off\r\nrem Written by the Task Lock extension: its bundled CLI, run by the editor's own runtime.\r\nset ELECTRON_RUN_AS_NODE=1\r\n"${runtime}" "${cli}" %*\r\n`,
  };
}
