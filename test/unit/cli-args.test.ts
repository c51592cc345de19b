import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError, parseArgs } from '../../src/cli/args';

describe('task-lock arguments', () => {
  it('reads run with its options and the command after --', () => {
    const p = parseArgs(['run', '--folder', 'x', '--wait=2.5', '--label=watch', '--', 'npm', 'run', '--silent', 'watch']);
    assert.equal(p.command, 'run');
    assert.equal(p.folder, 'x');
    assert.equal(p.waitMs, 2500);
    assert.equal(p.label, 'watch');
    assert.deepEqual(p.argv, ['npm', 'run', '--silent', 'watch']);
  });

  it('reads --wait alone as waiting forever', () => {
    assert.equal(parseArgs(['run', '--wait', '--', 'true']).waitMs, Infinity);
  });

  const usage: Array<[string[], RegExp]> = [
    [['run', '--bogus', '--', 'x'], /unknown option --bogus/],
    [['run'], /no command to run/],
    [['run', '--'], /no command to run/],
    [['run', 'npm', 'test'], /put the command after --/],
    [['run', '--wait=soon', '--', 'x'], /--wait needs a number of seconds/],
    [['run', '--stale=1', '--', 'x'], /--stale needs a number of seconds from 2 to 86400/],
    [['run', '--stale=5000000', '--', 'x'], /--stale needs a number of seconds from 2 to 86400/],
    [['status', '--stale=86401'], /--stale needs a number of seconds from 2 to 86400/],
    [['run', '--folder'], /--folder needs a value/],
    [['status', '--force'], /unknown option --force for "status"/],
    [['status', '--json=yes'], /--json takes no value/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ];
  for (const [args, message] of usage) {
    it(`refuses ${args.join(' ')}`, () => {
      assert.throws(() => parseArgs(args), message);
    });
  }

  it('no arguments is a usage error (as flock(1)); --help is help, for the command it follows', () => {
    assert.throws(() => parseArgs([]), UsageError);
    assert.equal(parseArgs(['--help']).command, 'help');
    const runHelp = parseArgs(['run', '--help']);
    assert.equal(runHelp.command, 'help');
    assert.equal(runHelp.helpFor, 'run');
    assert.equal(parseArgs(['status', '--help']).helpFor, 'status');
  });

  it('--take-over asks the holder to hand over; with --wait it is a usage error', () => {
    assert.equal(parseArgs(['run', '--take-over', '--', 'true']).takeOver, true);
    assert.equal(parseArgs(['run', '--', 'true']).takeOver, undefined);
    assert.throws(() => parseArgs(['run', '--take-over', '--wait=3', '--', 'true']), /use --take-over or --wait, not both/);
    assert.throws(() => parseArgs(['run', '--take-over=yes', '--', 'true']), /--take-over takes no value/);
    assert.throws(() => parseArgs(['status', '--take-over']), /unknown option --take-over for "status"/);
  });

  it('reads stop with its folder; it takes no run options', () => {
    const p = parseArgs(['stop', '--folder', 'x', '--stale=5']);
    assert.equal(p.command, 'stop');
    assert.equal(p.folder, 'x');
    assert.equal(p.staleMs, 5000);
    assert.equal(parseArgs(['stop', '--help']).helpFor, 'stop');
    assert.throws(() => parseArgs(['stop', '--wait']), /unknown option --wait for "stop"/);
    assert.throws(() => parseArgs(['stop', 'now']), /unexpected argument "now"/);
  });

  it('-E / --conflict-exit-code sets the status when the lock is held (flock\'s name), 1 to 255', () => {
    assert.equal(parseArgs(['run', '-E', '3', '--', 'true']).conflictExitCode, 3);
    assert.equal(parseArgs(['run', '--conflict-exit-code=9', '--', 'true']).conflictExitCode, 9);
    assert.equal(parseArgs(['run', '--', 'true']).conflictExitCode, undefined);
    assert.throws(() => parseArgs(['run', '-E', '0', '--', 'true']), /-E needs an exit status from 1 to 255/);
    assert.throws(() => parseArgs(['status', '-E', '3']), /unknown option -E for "status"/);
  });
});
