import * as path from 'node:path';

// Compiled to out/test/harness/*.js: the repo root is three levels up.
export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const cacheRoot = path.join(repoRoot, '.vscode-test');
export const fixturesRoot = path.join(repoRoot, 'test', 'fixtures');
export const compiledVscodeTests = path.join(repoRoot, 'out', 'test', 'vscode');

/** The code-server the real-editor suites run on unless TASK_LOCK_CODE_SERVER names another. */
export const defaultCodeServerVersion = '4.100.3';
/** `TASK_LOCK_CODE_SERVER=4.90.3` runs the suites on another code-server from npm, installed in a cache folder of its own. */
export const codeServerVersion = process.env.TASK_LOCK_CODE_SERVER?.trim() || defaultCodeServerVersion;
export const chromiumPath = process.env.TASK_LOCK_CHROMIUM ?? '/usr/bin/chromium';

export function editorTestModule(name: string): string {
  return path.join(compiledVscodeTests, 'editor', name);
}

/** Why the version asked for cannot be used, or undefined when it can. */
export function badCodeServerVersion(): string | undefined {
  // A version becomes a folder name and an npm spec: only an exact version is both safe and reproducible.
  return /^\d+\.\d+\.\d+$/.test(codeServerVersion)
    ? undefined
    : `TASK_LOCK_CODE_SERVER="${codeServerVersion}" is not a code-server version: give an exact one such as ${defaultCodeServerVersion} (npm view code-server versions lists them)`;
}
