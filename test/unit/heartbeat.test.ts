import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BeatSighting, lookInterval, observe, sight, stillForMs } from '../../src/lock/heartbeat';
import { judge, lockIdOf } from '../../src/lock/state';
import type { HolderRecord } from '../../src/lock/record';

// A follower's looks at a foreign heartbeat, fed as (follower's clock, mtime the holder wrote by its clock).
// The holder beats every stale / 2 by its own clock; the follower judges by its own.

const STALE = 10_000;
const LOOK = lookInterval(STALE);
const dir = { dev: 1, ino: 2, birthtimeMs: 3 };
const record: HolderRecord = {
  version: 1,
  token: 'tok',
  kind: 'cli',
  label: 'far',
  pid: 10,
  start: null,
  hostname: 'there',
  since: '2026-11-26T10:00:00.000Z',
  socket: null,
  lockId: lockIdOf(dir),
  tasks: [],
};

/** Replays looks every LOOK ms from 0 to `untilMs` (follower's clock) and returns when the lock was first judged stale. */
function replay(mtimeAt: (followerMs: number) => number, untilMs: number, followerWallMs: (t: number) => number = (t) => t): number | undefined {
  let s: BeatSighting | undefined;
  for (let t = 0; t <= untilMs; t += LOOK) {
    const mtimeMs = mtimeAt(t);
    s = sight(s, lockIdOf(dir), mtimeMs, t);
    const state = judge({
      lockDir: { ...dir, mtimeMs },
      record: { kind: 'ok', record },
      nowMs: followerWallMs(t),
      heartbeatStillMs: stillForMs(s, t),
      staleMs: STALE,
      hostname: 'here',
      pidNamespace: '4026531836',
      isAlive: () => true,
    });
    if (state.state === 'stale') {
      return t;
    }
  }
  return undefined;
}

/** A holder whose clock reads `skewMs` off ours, beating every STALE / 2 until `stopsAtMs` (our clock). */
function holder(skewMs: number, stopsAtMs = Infinity): (t: number) => number {
  return (t) => {
    const lastBeat = Math.floor(Math.min(t, stopsAtMs) / (STALE / 2)) * (STALE / 2);
    return lastBeat + skewMs;
  };
}

describe('heartbeat judged by change', () => {
  it('keeps a sighting while the mtime stands, starts over when it moves or the folder is new', () => {
    const a = sight(undefined, 'L', 100, 0);
    assert.equal(sight(a, 'L', 100, 5_000), a);
    assert.equal(stillForMs(sight(a, 'L', 100, 5_000), 5_000), 5_000);
    assert.equal(stillForMs(sight(a, 'L', 200, 5_000), 5_000), 0);
    assert.equal(stillForMs(sight(a, 'M', 100, 5_000), 5_000), 0);
  });

  for (const [what, skew] of [
    ['in step', 0],
    ['an hour behind', -3_600_000],
    ['an hour ahead', 3_600_000],
  ] as const) {
    it(`a beating holder whose clock runs ${what} is never stale`, () => {
      assert.equal(replay(holder(skew), 120_000), undefined);
    });

    it(`a holder whose clock runs ${what} is stale between stale and stale + one look after its last beat`, () => {
      const lastBeat = 40_000;
      const at = replay(holder(skew, lastBeat + 1), 120_000);
      assert.ok(at !== undefined, 'never judged stale');
      assert.ok(at - lastBeat >= STALE && at - lastBeat <= STALE + LOOK, `judged stale ${at - lastBeat} ms after its last beat`);
    });
  }

  it('a first look knows nothing: an old mtime is not yet stale', () => {
    assert.equal(replay(() => -86_400_000, 0), undefined);
  });

  it('a follower whose wall clock jumps does not matter: only its own looks count', () => {
    assert.equal(replay(holder(0), 60_000, (t) => (t > 30_000 ? t + 7_200_000 : t)), undefined);
  });

  it('looks every second at most, five times a second at the shortest stale', () => {
    assert.equal(lookInterval(2_000), 200);
    assert.equal(lookInterval(10_000), 1_000);
    assert.equal(lookInterval(86_400_000), 1_000);
  });

  it('remembers looks per lock folder, and forgets a folder that is gone', () => {
    const p = `/nowhere/${process.pid}/lock`;
    assert.equal(observe(p, { lockId: 'L', mtimeMs: 1 }, 1_000), 0);
    assert.equal(observe(p, { lockId: 'L', mtimeMs: 1 }, 4_000), 3_000);
    assert.equal(observe(p, null, 5_000), 0);
    assert.equal(observe(p, { lockId: 'L', mtimeMs: 1 }, 6_000), 0);
  });
});
