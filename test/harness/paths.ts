import * as path from 'node:path';

// Compiled to out/test/harness/*.js: the repo root is three levels up.
export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const cacheRoot = path.join(repoRoot, '.vscode-test');
export const fixturesRoot = path.join(repoRoot, 'test', 'fixtures');
export const compiledVscodeTests = path.join(repoRoot, 'out', 'test', 'vscode');

export const codeServerVersion = '4.100.3';
export const chromiumPath = process.env.TASK_LOCK_CHROMIUM ?? '/usr/bin/chromium';

export function editorTestModule(name: string): string {
  return path.join(compiledVscodeTests, 'editor', name);
}
