// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The globals of Node's ES modules (no require, module, __dirname: those are CommonJS's), for the scripts.
const nodeModuleGlobals = Object.fromEntries(
  [
    'AbortController', 'AbortSignal', 'atob', 'Blob', 'BroadcastChannel', 'btoa', 'Buffer', 'clearImmediate',
    'clearInterval', 'clearTimeout', 'CompressionStream', 'console', 'crypto', 'CustomEvent', 'DecompressionStream',
    'DOMException', 'Event', 'EventTarget', 'fetch', 'File', 'FormData', 'global', 'Headers', 'MessageChannel',
    'MessageEvent', 'MessagePort', 'performance', 'process', 'queueMicrotask', 'ReadableStream', 'Request',
    'Response', 'setImmediate', 'setInterval', 'setTimeout', 'structuredClone', 'TextDecoder', 'TextEncoder',
    'TransformStream', 'URL', 'URLSearchParams', 'WebAssembly', 'WritableStream',
  ].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.vscode-test/**', 'test/fixtures/**'] },
  {
    // The build, test and bench scripts, and this file: plain Node ES modules.
    files: ['scripts/**/*.mjs', '*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { ecmaVersion: 'latest', sourceType: 'module', globals: nodeModuleGlobals },
    rules: {
      eqeqeq: 'error',
      curly: 'error',
    },
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe/it return promises that the runner itself awaits.
          allowForKnownSafeCalls: [{ from: 'package', name: ['describe', 'it', 'test', 'suite'], package: 'node:test' }],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      eqeqeq: 'error',
      curly: 'error',
    },
  },
  {
    // Layers by folder (the folder's name states its layer; see CONTRIBUTING.md). No file grows past 450 lines.
    files: ['src/**/*.ts'],
    rules: { 'max-lines': ['error', { max: 450 }] },
  },
  {
    // The engine is shared by the CLI and the extension: it must run in plain Node.
    files: ['src/lock/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: 'src/lock is pure Node: the CLI shares it. Keep vscode out.' }],
        patterns: [{ group: ['../ui/*', '../tasks/*', '../model/*', '../extension', '../cli/*'], message: 'src/lock must not depend on the layers above it.' }],
      }],
    },
  },
  {
    // Decisions and words-free status: unit-tested as tables, so no editor and no layer that needs one.
    files: ['src/model/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: 'src/model is pure: pass editor facts in as plain data.' }],
        patterns: [{ group: ['../ui/*', '../tasks/*', '../extension', '../cli/*'], message: 'src/model depends only on the engine (src/lock).' }],
      }],
    },
  },
  {
    // The CLI runs in plain Node.
    files: ['src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: 'The CLI runs without an editor.' }],
        patterns: [{ group: ['../ui/*', '../tasks/*', '../model/*', '../extension'], message: 'The CLI uses the engine (src/lock) only.' }],
      }],
    },
  },
  {
    // Guards emit events; src/ui chooses words and notifications. So no words and no show* here.
    files: ['src/tasks/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['../ui/*', '../extension'], message: 'src/tasks emits events (tasks/events.ts); src/ui turns them into words.' }],
      }],
      'no-restricted-syntax': ['error',
        { selector: "MemberExpression[property.name=/^show/][object.property.name='window']", message: 'Notifications belong to src/ui (emit an event from tasks/events.ts).' },
        { selector: "MemberExpression[property.name='l10n']", message: 'User-facing words belong to src/ui (emit an event from tasks/events.ts).' },
      ],
    },
  },
  {
    // Outside src/ui and the thin extension.ts nothing shows a message.
    files: ['src/lock/**/*.ts', 'src/model/**/*.ts', 'src/cli/**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', { selector: "MemberExpression[property.name=/^show/][object.property.name='window']", message: 'Only src/ui shows messages.' }],
    },
  },
  {
    // Every word a user sees goes through vscode.l10n.t with a literal message: @vscode/l10n-dev finds only
    // `l10n.t('…')` and `vscode.l10n.t('…')` calls with a literal first argument (npm run l10n makes the bundle).
    files: ['src/ui/**/*.ts', 'src/extension.ts'],
    rules: {
      'no-restricted-syntax': ['error',
        { selector: "CallExpression[callee.property.name='t'][callee.object.name='l10n'][arguments.0.type!='Literal']", message: 'l10n.t needs a literal message (with {0} for what varies): l10n-dev extracts only literals.' },
        { selector: "CallExpression[callee.property.name='t'][callee.object.property.name='l10n'][arguments.0.type!='Literal']", message: 'vscode.l10n.t needs a literal message (with {0} for what varies): l10n-dev extracts only literals.' },
        { selector: "CallExpression[callee.type='Identifier'][callee.name='t']", message: 'Call l10n.t(…) or vscode.l10n.t(…): l10n-dev does not see a bare t(…), so its message would never be translated.' },
      ],
    },
  },
  {
    // The one file of the extension that wires layers together stays thin.
    files: ['src/extension.ts'],
    rules: { 'max-lines': ['error', { max: 80 }] },
  },
);
