// Plain statistics over samples (numbers, usually milliseconds). An empty sample gives NaN, which the
// report shows as n/a.

/** The smallest sample with at least a q share of the samples at or below it (nearest rank). */
export function quantile(values, q) {
  if (values.length === 0) {
    return NaN;
  }
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export const median = (values) => quantile(values, 0.5);
export const p95 = (values) => quantile(values, 0.95);

export function min(values) {
  return values.length === 0 ? NaN : Math.min(...values);
}

export function max(values) {
  return values.length === 0 ? NaN : Math.max(...values);
}

/** A count over `minutes` as a rate per minute; NaN for a missing count. */
export function perMinute(count, minutes) {
  return count === undefined ? NaN : count / minutes;
}
