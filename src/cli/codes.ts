/** The exit status of "the lock is busy": BSD's EX_TEMPFAIL, as flock(1) users know it. */
export const EXIT_BUSY = 75;
export const EXIT_USAGE = 2;
export const EXIT_ERROR = 1;
