// Shared by the bench's helper processes: they load the engine exactly as the bench does.
import { createRequire } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

export const engine = require(path.join(root, 'out', 'src', 'lock', 'index.js'));
export const lockfile = require(path.join(root, 'node_modules', 'proper-lockfile'));

/** The raw baseline's lock target: its own file beside the folder, proper-lockfile's defaults otherwise. */
export function rawTarget(folder) {
  return path.join(folder, 'raw-workspace');
}

export function say(line) {
  process.stdout.write(`${line}\n`);
}

/** Helpers idle on purpose: this keeps the event loop alive without waking it. */
export function keepAlive() {
  return setInterval(() => undefined, 1 << 30);
}
