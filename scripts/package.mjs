// `npm run package` (after the production build) writes task-lock-<version>.vsix: the file that VS Code,
// code-server and VSCodium install, and that the Visual Studio Marketplace (vsce publish --packagePath)
// and Open VSX (ovsx publish) both take as it is. `--out FILE` writes it elsewhere (the package test).
// It packages whatever dist/ holds: the build is the npm script's first step, not this one's.
import { createVSIX } from '@vscode/vsce';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const at = process.argv.indexOf('--out');
if (at >= 0 && process.argv[at + 1] === undefined) {
  console.error('package.mjs: --out needs a file name');
  process.exit(2);
}
// Named after the command, not the npm name: the file a user installs says what it is.
const out = path.resolve(at >= 0 ? process.argv[at + 1] : path.join(root, `task-lock-${pkg.version}.vsix`));

await createVSIX({
  cwd: root,
  packagePath: out,
  // esbuild bundles proper-lockfile into dist/: the package needs no node_modules.
  dependencies: false,
  // No repository address is known, and none is made up; without this vsce stops to ask.
  allowMissingRepository: true,
  // vsce would turn relative links and pictures into a repository's web addresses (and fails without
  // one). Kept relative, they resolve inside the installed extension, offline: the package test checks
  // that each one is in the package.
  rewriteRelativeLinks: false,
});
