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
    // The engine is shared by the CLI and the extension: it must run in plain Node.
    files: ['src/lock/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: 'src/lock is pure Node: the CLI shares it. Keep vscode out.' }],
        patterns: [{ group: ['../ui/*', '../tasks/*', '../extension', '../cli'], message: 'src/lock must not depend on the editor layers.' }],
      }],
    },
  },
);
