/** The exit status of "the lock is busy": BSD's EX_TEMPFAIL, as flock(1) users know it. */
export const EXIT_BUSY = 75;
export const EXIT_USAGE = 2;
export const EXIT_ERROR = 1;
/**
 * `status` of a stale lock: its holder is gone but its lock is still there. 3 is LSB's `status` code for "the
 * program is not running" (its "dead, but the pid file exists" is 1, our error), and it collides with nothing
 * this CLI says: not 1 or 2, not 75 (held), not 126/127 (CMD cannot run) nor 128 + N (CMD died of signal N),
 * and it stays clear of sysexits' 64 to 78, whose meanings do not fit.
 */
export const EXIT_STALE = 3;
/** The version of `status --json`'s format: it grows only by new fields; a change to a field raises it. */
export const STATUS_JSON_VERSION = 1;
