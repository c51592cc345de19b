// Counts gathered across suites: host-side mocha tests plus the tests each editor window ran.
export interface Tally {
  editorPassed: number;
  editorFailed: number;
}

export const tally: Tally = { editorPassed: 0, editorFailed: 0 };
