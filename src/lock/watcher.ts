import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';
import { ByeReason, connect } from './channel';
import type { Disposable } from './events';
import { isAlive } from './process-identity';
import { type LockState, lockIdOf } from './state';

/** Why the state was looked at again. A holder's goodbye tells a release from a death. */
export type WatchCause = 'initial' | 'changed' | 'holder-released' | 'holder-handoff' | 'holder-compromised' | 'holder-gone' | 'timer';

export interface WatchEvent {
  state: LockState;
  cause: WatchCause;
}

interface Inspectable {
  readonly location: { home: string; lockDir: string };
  readonly staleMs: number;
  readonly updateMs: number;
  readonly lookMs: number;
  inspect(myToken?: string): LockState;
}

const FS_DEBOUNCE_MS = 5;
const ORPHAN_POLL_FIRST_MS = 10;
// Reading /proc is cheap, and a failover waits on it: the backoff stops at a few looks a second.
const ORPHAN_POLL_MAX_MS = 200;
/** A live holder whose channel hangs up without a goodbye is broken or hostile: reconnect from this, doubling. */
const RECONNECT_FIRST_MS = 100;
/** After such a hang-up, the holder's process is looked at again this soon, doubling, until the reconnect. */
const DROP_CHECK_FIRST_MS = 5;

/**
 * Follows one lock without polling the disk:
 * - a live holder on this host: stay connected to its channel; a dropped connection means "check now";
 * - the lock folder's own events (inotify and the like) announce new holders and releases;
 * - a holder on another host (or pid namespace): its heartbeat, looked at every `lookMs` until it is seen
 *   standing still for `staleMs` (judged by change, not by its clock's value: see heartbeat.ts);
 * - a holder that died while its tasks run: their pids are checked (in /proc, not on disk), backing off.
 * Every handle it keeps is unref'd: watching never keeps a process alive.
 */
export class LockWatcher implements Disposable {
  private fsWatcher: fs.FSWatcher | undefined;
  private socket: net.Socket | undefined;
  private socketToken: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private orphanDelay = ORPHAN_POLL_FIRST_MS;
  /** The holder whose channel last hung up without a goodbye, and when its next connection may be tried. */
  private droppedToken: string | undefined;
  private reconnectDelay = RECONNECT_FIRST_MS;
  private reconnectAt = 0;
  private dropCheckDelay = DROP_CHECK_FIRST_MS;
  private lastKey = '';
  private lockDirId = '';
  /** The lock home's identity when its watch began (see check). */
  private homeId = '';
  private disposed = false;

  /**
   * `everyCheck`: tell the listener about every look, not only about changes. A waiter needs that: a
   * holder may come and go between two looks, and the waiter's own attempt may have seen it.
   */
  constructor(
    private readonly lock: Inspectable,
    private readonly listener: (e: WatchEvent) => void,
    private readonly options: { myToken?: string; everyCheck?: boolean } = {},
  ) {}

  start(): void {
    this.lockDirId = identity(this.lock.location.lockDir);
    this.watchFolder();
    this.check('initial');
  }

  dispose(): void {
    this.disposed = true;
    this.fsWatcher?.close();
    this.socket?.destroy();
    clearTimeout(this.timer);
    clearTimeout(this.debounce);
  }

  private watchFolder(): void {
    const lockDirName = path.basename(this.lock.location.lockDir);
    this.homeId = identity(this.lock.location.home);
    try {
      this.fsWatcher = fs.watch(this.lock.location.home, { persistent: false }, (eventType, filename) => {
        // A heartbeat (proper-lockfile touching the lock folder) teaches nothing. Linux reports it as 'rename'
        // too (a folder's attribute change carries IN_ISDIR), so only a new folder identity counts there.
        if (eventType === 'rename' && (filename !== lockDirName || this.lockDirChanged())) {
          clearTimeout(this.debounce);
          this.debounce = setTimeout(() => this.check('changed'), FS_DEBOUNCE_MS);
          this.debounce.unref();
        }
      });
      this.fsWatcher.on('error', () => {
        // The lock home was removed or became unreadable: look again, then watch anew.
        this.fsWatcher?.close();
        this.fsWatcher = undefined;
        this.later(this.lock.updateMs, 'timer');
      });
    } catch {
      this.fsWatcher = undefined;
    }
  }

  private lockDirChanged(): boolean {
    const id = identity(this.lock.location.lockDir);
    if (id === this.lockDirId) {
      return false;
    }
    this.lockDirId = id;
    return true;
  }

  private check(cause: WatchCause): void {
    if (this.disposed) {
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    // A watch follows the folder, not its path: after rm -rf of the lock home (made again by the next holder)
    // it hears nothing more, and no error says so. A lock home that is not the one watched is watched anew.
    if (this.fsWatcher && identity(this.lock.location.home) !== this.homeId) {
      this.fsWatcher.close();
      this.fsWatcher = undefined;
    }
    if (!this.fsWatcher) {
      this.watchFolder();
    }
    const state = this.lock.inspect(this.options.myToken);
    const key = signature(state);
    if (key !== this.lastKey || cause.startsWith('holder-') || this.options.everyCheck) {
      this.lastKey = key;
      this.listener({ state, cause });
    }
    if (this.disposed) {
      return;
    }
    this.follow(state);
    if (!this.fsWatcher && !this.timer) {
      // No lock home to watch yet: look again in a while, as after a watch error.
      this.later(this.lock.updateMs, 'timer');
    }
  }

  private follow(state: LockState): void {
    const rec = state.state === 'held' ? state.holder.record : undefined;
    if (state.state !== 'held' || !rec || !state.holder.sameHost) {
      this.dropSocket();
      this.orphanDelay = ORPHAN_POLL_FIRST_MS;
      const still = state.state === 'held' ? state.holder.heartbeatStillMs : undefined;
      if (still !== undefined) {
        // Another host or pid namespace: only looks see its heartbeat change, and the look that finds it
        // still for `stale` comes at most one look late.
        this.later(Math.max(20, Math.min(this.lock.lookMs, this.lock.staleMs - still + 20)), 'timer');
      } else if (state.state === 'held') {
        // A holder not known yet: the heartbeat's age on this host's clock. Look when it would turn stale.
        this.later(Math.max(50, this.lock.staleMs - state.holder.heartbeatAgeMs + 20), 'timer');
      }
      return;
    }
    if (rec.socket && isAlive(rec)) {
      this.orphanDelay = ORPHAN_POLL_FIRST_MS;
      if (this.socketToken === rec.token) {
        return;
      }
      if (this.droppedToken === rec.token && Date.now() < this.reconnectAt) {
        // A holder that hangs up is usually dying: its sockets close a moment before its process leaves
        // /proc. Look again soon, backing off, until a reconnect may be tried: a failover must not wait out
        // the whole delay (bench: a ~100 ms mode in same-host failover), and a live hostile holder costs
        // only a few cheap looks per delay, never a reconnect.
        const wait = Math.min(this.reconnectAt - Date.now(), this.dropCheckDelay);
        this.dropCheckDelay *= 2;
        this.later(wait, 'timer');
        return;
      }
      this.dropSocket();
      const token = rec.token;
      this.socketToken = token;
      let connected = false;
      const socket = connect(rec.socket, {
        onClose: (bye: ByeReason | undefined) => {
          if (this.socket !== socket) {
            return;
          }
          this.socket = undefined;
          this.socketToken = undefined;
          if (!connected && bye === undefined) {
            // The holder lives but its channel does not answer: fall back to its heartbeat's rhythm.
            this.later(this.lock.updateMs, 'timer');
            return;
          }
          if (bye === undefined) {
            // A dying holder drops the connection too: the check below sees it dead and nothing waits. A holder
            // that lives on after hanging up gets its next connection later, each time twice as late.
            this.reconnectDelay = this.droppedToken === token ? Math.min(this.lock.updateMs, this.reconnectDelay * 2) : RECONNECT_FIRST_MS;
            this.droppedToken = token;
            this.reconnectAt = Date.now() + this.reconnectDelay;
            this.dropCheckDelay = DROP_CHECK_FIRST_MS;
          }
          this.check(bye === undefined ? 'holder-gone' : `holder-${bye}`);
        },
      });
      socket.on('connect', () => {
        connected = true;
      });
      this.socket = socket;
      return;
    }
    // The holder process is gone but a task it recorded still runs (or it has no channel): check the
    // processes, quickly at first (tasks usually die with their launcher), then backing off.
    this.dropSocket();
    this.later(this.orphanDelay, 'timer');
    this.orphanDelay = Math.min(ORPHAN_POLL_MAX_MS, this.orphanDelay * 2);
  }

  private later(ms: number, cause: WatchCause): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(cause), ms);
    this.timer.unref();
  }

  private dropSocket(): void {
    if (this.socket) {
      const s = this.socket;
      this.socket = undefined;
      this.socketToken = undefined;
      s.destroy();
    }
  }
}

/** The lock folder's identity: it changes when a lock is taken or released, never with a heartbeat. */
function identity(lockDir: string): string {
  try {
    return lockIdOf(fs.statSync(lockDir));
  } catch {
    return 'none';
  }
}

function signature(s: LockState): string {
  switch (s.state) {
    case 'free':
      return 'free';
    case 'error':
      return `error:${s.message}`;
    default: {
      const r = s.holder.record;
      const who = r ? `${r.token}:${r.tasks.map((t) => t.pid).join(',')}` : (s.holder.unknownReason ?? '');
      return `${s.state}:${who}`;
    }
  }
}
