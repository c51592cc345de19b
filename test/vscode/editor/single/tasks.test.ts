import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runTaskToEnd, workspaceFolder } from '../util';

describe('tasks from the fixture tasks.json', () => {
  it('runs a real shell task that ends with exit code 0 and writes its file', async () => {
    const output = path.join(workspaceFolder(), 'task-output.txt');
    assert.strictEqual(fs.existsSync(output), false, 'a fresh fixture copy has no task output yet');
    const code = await runTaskToEnd('harness: write file');
    assert.strictEqual(code, 0);
    assert.strictEqual(fs.readFileSync(output, 'utf8').trim(), 'written by a task');
  });

  it('reports a failing shell task with its real exit code', async () => {
    const code = await runTaskToEnd('harness: exit 3');
    assert.strictEqual(code, 3);
  });
});
