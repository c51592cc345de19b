import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatReport, soak } from '../support/soak';

// A short soak inside `npm test`; `npm run soak` runs the same engine for 10,000 transfers.
describe('soak', () => {
  it('1,000 transfers among 8 contenders under kills, touches, removals and forced reclaims: no overlap, nothing left', async () => {
    const r = await soak({ transfers: 1_000, procs: 8 });
    const text = formatReport(r);
    console.log(text);
    assert.ok(r.selfCheck.ok, `the overlap detector is blind: ${r.selfCheck.detail}`);
    assert.ok(r.transfers >= 1_000, text);
    assert.equal(r.overlaps, 0, text);
    assert.deepEqual(r.leftovers, [], text);
  });
});
