// How a follower judges a heartbeat written by another clock: by whether it changes, never by its value.
//
// A holder on another host (or in another pid namespace) beats by setting the lock folder's mtime to *its*
// clock's time. Comparing that with this host's clock would make a holder whose clock runs behind look dead
// at once, and one whose clock runs ahead immortal after it stops. Whether the mtime changes, measured on this
// process's monotonic clock, needs no agreement between clocks: a holder beats every `stale / 2`, so an mtime
// seen standing still for `stale` means it stopped.
//
// The price: a first look knows nothing, so a foreign holder counts as alive until it has been watched for
// `stale`. Looking every `look` ms, a stopped holder is judged stale between `stale` and `stale + look` after
// its last beat (its last beat is first seen at most `look` after it happened; `stale` later it is stale).

/** What this process has seen of one lock folder's heartbeat. */
export interface BeatSighting {
  /** The lock folder's identity (lockIdOf): a new folder is a new holder, whatever its mtime. */
  lockId: string;
  mtimeMs: number;
  /** When this mtime was first seen, on the follower's monotonic clock. */
  firstSeenMs: number;
}

/** The sighting after one more look: a new folder or a new mtime starts over; the same mtime keeps its first sight. */
export function sight(prev: BeatSighting | undefined, lockId: string, mtimeMs: number, nowMs: number): BeatSighting {
  if (prev && prev.lockId === lockId && prev.mtimeMs === mtimeMs) {
    return prev;
  }
  return { lockId, mtimeMs, firstSeenMs: nowMs };
}

/** How long the heartbeat has been seen standing still: a lower bound of the time since its last beat. */
export function stillForMs(s: BeatSighting, nowMs: number): number {
  return Math.max(0, nowMs - s.firstSeenMs);
}

/**
 * How often a follower looks at a heartbeat judged by change: it bounds how late a stopped holder is
 * noticed (see above). A stat a second at most; five looks a second at the shortest stale (2 s).
 */
export function lookInterval(staleMs: number): number {
  return Math.max(200, Math.min(1000, Math.floor(staleMs / 10)));
}

/** This process's sightings, by lock folder path: every WorkspaceLock and watcher of a folder shares what was seen. */
const sightings = new Map<string, BeatSighting>();

/** Records a look at `lockDir` (null: no lock folder) and returns how long its heartbeat has stood still. */
export function observe(lockDir: string, st: { lockId: string; mtimeMs: number } | null, nowMs = performance.now()): number {
  if (st === null) {
    sightings.delete(lockDir);
    return 0;
  }
  const s = sight(sightings.get(lockDir), st.lockId, st.mtimeMs, nowMs);
  sightings.set(lockDir, s);
  return stillForMs(s, nowMs);
}
