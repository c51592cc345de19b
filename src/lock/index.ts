// The lock engine's public surface, shared by the CLI and the extension. Pure Node: no `vscode` here.
export { LockError, errorMessage, type LockErrorCode, type LockErrorFacts, type LockProblem } from './errors';
export { Emitter, type Disposable, type Listener } from './events';
export { onExit, type ExitPhase } from './exit';
export { GATE_CLOSED_STATUS, canGate, gatedCommand, openGate } from './gate';
export { LockHandle, type HolderInfo, type StartRequest } from './handle';
export { TAKE_OVER_WAIT_MS, type HandoffRequest, type ReservationView } from './handoff';
export { askHolderToStart, type StartAnswer } from './ask-start';
export { defaultHome, locate, resolveFolder, type LockLocation, type LocationOptions } from './location';
export { ORPHAN_TERM_MS, endTasks, groupLedBy, orphanOf, proven, signalTask, stopTasks } from './orphan';
export { twinProcesses } from './twins';
export { channelProblem } from './state-dir';
export { MARK_VAR, isAlive, processStart, type ProcessRef } from './process-identity';
export { parseRecord, readRecord, type HolderKind, type HolderRecord, type RecordRead, type TaskRef } from './record';
export { describeHolder, describeState, errorState, holderFields, judge, type HolderFields, type HolderView, type LockState, type StaleCause, type UnknownHolder } from './state';
export { WorkspaceLock, lockTimings, DEFAULT_STALE_MS, MIN_STALE_MS, MAX_STALE_MS, type AcquireResult, type LockOptions, type ReclaimResult } from './lock';
export type { WatchCause, WatchEvent } from './watcher';
