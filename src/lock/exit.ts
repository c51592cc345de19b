// The process's one exit hook. Nothing asynchronous runs at exit, so every step here is synchronous, and
// the order matters: the children of this process that hold a lock through its record (the gated task
// type's processes) must be ended before the locks are looked at, so that a lock kept only by them is
// released instead of being left to tasks that are about to die.
import type { Disposable } from './events';

/** Run in this order: first `children` (end what must not outlive us), then `locks` (release or leave). */
export type ExitPhase = 'children' | 'locks';

const PHASES: readonly ExitPhase[] = ['children', 'locks'];
const hooks: Record<ExitPhase, Set<() => void>> = { children: new Set(), locks: new Set() };
let installed = false;

/** Registers `fn` to run synchronously when the process exits, in its phase. */
export function onExit(phase: ExitPhase, fn: () => void): Disposable {
  if (!installed) {
    installed = true;
    process.on('exit', runExitHooks);
  }
  hooks[phase].add(fn);
  return { dispose: () => hooks[phase].delete(fn) };
}

function runExitHooks(): void {
  for (const phase of PHASES) {
    for (const fn of hooks[phase]) {
      try {
        fn();
      } catch {
        // Best effort: one failing step must not keep the later ones (the lock's release) from running.
      }
    }
  }
}
