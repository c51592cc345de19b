import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_TREE, dependencyTree, folderOpenLabels, refsOf, treesDiffer, treesOf } from '../../src/model/compound';
import { aliasesOf, labelIn, missingTasks, owningFolder, refLabel, refMatches, rootsOf, type TaskId } from '../../src/model/match';

// Compound tasks (#10 D2): a guarded label's dependsOn tree, and which running tasks it covers.

const devTasks = [
  { label: 'dev', dependsOn: ['watch', 'serve'], problemMatcher: [] },
  { label: 'watch', type: 'process', command: 'node', args: ['watch.js'], isBackground: true },
  { label: 'serve', type: 'process', command: 'node', args: ['serve.js'], isBackground: true },
];

describe('dependsOn trees', () => {
  it('a compound task\'s dependencies, itself left out; a plain task has none', () => {
    assert.deepEqual(dependencyTree(devTasks, 'dev'), ['watch', 'serve']);
    assert.deepEqual(dependencyTree(devTasks, 'watch'), []);
    assert.deepEqual(dependencyTree(devTasks, 'nothing of that name'), []);
  });

  it('goes down the tree, naming each task once (a diamond), in the order first met', () => {
    const tasks = [
      { label: 'all', dependsOn: ['dev', 'docs'] },
      { label: 'dev', dependsOn: ['build', 'serve'] },
      { label: 'docs', dependsOn: 'build' },
      { label: 'build', dependsOn: [{ type: 'npm', script: 'codegen' }] },
    ];
    assert.deepEqual(dependencyTree(tasks, 'all'), ['dev', 'docs', 'build', 'serve', { type: 'npm', script: 'codegen' }]);
  });

  it('a cycle ends where it closes, through the root too', () => {
    const tasks = [
      { label: 'a', dependsOn: ['b'] },
      { label: 'b', dependsOn: ['c', 'a'] },
      { label: 'c', dependsOn: 'b' },
      { label: 'self', dependsOn: 'self' },
    ];
    assert.deepEqual(dependencyTree(tasks, 'a'), ['b', 'c']);
    assert.deepEqual(dependencyTree(tasks, 'self'), []);
  });

  it('dependencies named by a task identifier are followed into the task that declares them', () => {
    const tasks = [
      { label: 'dev', dependsOn: [{ type: 'npm', script: 'watch' }] },
      // A tasks.json entry that customizes npm's "watch" script, with dependencies of its own.
      { type: 'npm', script: 'watch', label: 'npm: watch', dependsOn: ['gulp: assets'] },
    ];
    assert.deepEqual(dependencyTree(tasks, 'dev'), [{ type: 'npm', script: 'watch' }, 'gulp: assets']);
    // One identifier written in two orders is one task.
    const twice = [{ label: 'x', dependsOn: [{ type: 'gulp', task: 'w' }, { task: 'w', type: 'gulp' }] }];
    assert.deepEqual(dependencyTree(twice, 'x'), [{ type: 'gulp', task: 'w' }]);
  });

  it('the first declaration of a label wins (the folder\'s before the workspace\'s and the user\'s)', () => {
    const tasks = [
      { label: 'dev', dependsOn: ['watch'] },
      { label: 'dev', dependsOn: ['other'] },
    ];
    assert.deepEqual(dependencyTree(tasks, 'dev'), ['watch']);
  });

  it('tasks.json of version 0.1.0 names tasks by taskName', () => {
    assert.deepEqual(dependencyTree([{ taskName: 'dev', dependsOn: 'watch' }], 'dev'), ['watch']);
  });

  it('anything else in dependsOn or in the file is skipped, never thrown on', () => {
    assert.deepEqual(refsOf(['watch', '', '  ', 3, null, { task: 'no type' }, { type: 'npm', script: 'x' }, ['nested']]), ['watch', { type: 'npm', script: 'x' }]);
    assert.deepEqual(refsOf(undefined), []);
    assert.deepEqual(refsOf('watch'), ['watch']);
    assert.deepEqual(dependencyTree([null, 'dev', 42, [], { label: 'dev', dependsOn: { type: 'shell' } }], 'dev'), [{ type: 'shell' }]);
  });

  it('a generated tree stops at MAX_TREE tasks', () => {
    const many = [{ label: 'all', dependsOn: Array.from({ length: MAX_TREE + 50 }, (_, i) => `t${i}`) }];
    assert.equal(dependencyTree(many, 'all').length, MAX_TREE);
    const chain = Array.from({ length: MAX_TREE + 50 }, (_, i) => ({ label: `c${i}`, dependsOn: `c${i + 1}` }));
    assert.equal(dependencyTree(chain, 'c0').length, MAX_TREE);
  });

  it('trees of the guarded labels that have dependencies; a change is told from none', () => {
    const trees = treesOf(devTasks, ['dev', 'watch']);
    assert.deepEqual([...trees.entries()], [['dev', ['watch', 'serve']]]);
    assert.equal(treesDiffer(trees, treesOf(structuredClone(devTasks), ['dev', 'watch'])), false);
    const changed = [{ ...devTasks[0], dependsOn: ['watch'] }, ...devTasks.slice(1)];
    assert.equal(treesDiffer(trees, treesOf(changed, ['dev'])), true);
    assert.equal(treesDiffer(trees, new Map()), true);
  });
});

describe('which running tasks a compound task covers', () => {
  const trees = treesOf(devTasks, ['dev']);
  const task = (name: string, over: Partial<TaskId> = {}): TaskId => ({ name, folder: '/a', ...over });

  it('its dependencies belong to it: the folder that guards it owns them', () => {
    assert.deepEqual(rootsOf(task('watch'), ['dev'], trees), ['dev']);
    assert.deepEqual(rootsOf(task('dev'), ['dev'], trees), ['dev']);
    assert.deepEqual(rootsOf(task('lint'), ['dev'], trees), []);
    assert.equal(owningFolder(task('serve'), [{ folder: '/a', tasks: ['dev'], trees }]), '/a');
    assert.equal(owningFolder(task('serve'), [{ folder: '/a', tasks: ['dev'] }]), undefined, 'without its tree, only the label');
    assert.equal(owningFolder(task('serve', { folder: '/b' }), [{ folder: '/a', tasks: ['dev'], trees }]), undefined, 'another folder\'s serve');
  });

  it('a task shared by two guarded compounds belongs to both', () => {
    const two = treesOf([...devTasks, { label: 'test', dependsOn: ['watch', 'jest'] }], ['dev', 'test']);
    assert.deepEqual(rootsOf(task('watch'), ['dev', 'test'], two), ['dev', 'test']);
  });

  it('the label it goes by: the guarded label, else the dependsOn entry naming it', () => {
    assert.equal(labelIn(task('watch'), ['dev'], trees), 'watch');
    assert.equal(labelIn(task('dev'), ['dev'], trees), 'dev');
    assert.equal(labelIn(task('lint'), ['dev'], trees), undefined);
    const npm = treesOf([{ label: 'dev', dependsOn: [{ type: 'npm', script: 'watch' }, 'npm: serve'] }], ['dev']);
    const npmWatch = task('watch', { aliases: aliasesOf('watch', 'npm', 'npm'), definition: { type: 'npm', script: 'watch' } });
    assert.equal(labelIn(npmWatch, ['dev'], npm), 'npm: watch');
    assert.equal(labelIn(task('serve', { aliases: aliasesOf('serve', 'npm', 'npm') }), ['dev'], npm), 'npm: serve');
  });

  it('a task identifier matches by every property it gives, by content', () => {
    const def = { type: 'npm', script: 'watch', path: 'web/', options: { env: { A: '1' } } };
    assert.equal(refMatches({ type: 'npm', script: 'watch' }, task('watch', { definition: def })), true);
    assert.equal(refMatches({ type: 'npm', script: 'watch', options: { env: { A: '1' } } }, task('watch', { definition: def })), true);
    assert.equal(refMatches({ type: 'npm', script: 'serve' }, task('watch', { definition: def })), false);
    assert.equal(refMatches({ type: 'npm', script: 'watch', path: 'api/' }, task('watch', { definition: def })), false);
    assert.equal(refMatches({ type: 'npm', script: 'watch' }, task('watch')), false, 'no definition, no match');
    assert.equal(refLabel({ type: 'gulp', task: 'watch' }), 'gulp: watch');
    assert.equal(refLabel({ type: 'shell' }), 'shell');
  });

  it('a compound task is running while any task of its tree runs', () => {
    const running = [task('serve')].flatMap((t) => rootsOf(t, ['dev', 'lint'], trees));
    assert.deepEqual(missingTasks(['dev', 'lint'], running), ['lint']);
  });
});

describe('folder-open tasks (taskLock.guardFolderOpenTasks)', () => {
  it('lists the labels of the tasks VS Code starts when the folder opens, each once, and nothing else', () => {
    const entries = [
      { label: 'watch', runOptions: { runOn: 'folderOpen' } },
      { label: 'serve', runOptions: { runOn: 'default' } },
      { label: 'lint' },
      { taskName: 'old', runOptions: { runOn: 'folderOpen' } },
      { label: 'watch', runOptions: { runOn: 'folderOpen' } },
      { runOptions: { runOn: 'folderOpen' } },
      'not a task',
      { label: 'bad', runOptions: 'folderOpen' },
    ];
    assert.deepEqual(folderOpenLabels(entries), ['watch', 'old']);
    assert.deepEqual(folderOpenLabels([]), []);
  });
});
