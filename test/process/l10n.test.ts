// Localization the VS Code way: every word a user sees in the editor is looked up in a bundle that
// @vscode/l10n-dev extracts from the sources (l10n/bundle.l10n.json), or in package.nls.json for the manifest.
// These checks fail when a string bypasses that: a message l10n-dev cannot find, a sentence shown without
// l10n.t, a stale bundle, a manifest string left in English, a word of the status bar a translation misses.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ts from 'typescript';

const root = path.resolve(__dirname, '../../..');
const l10nDev = path.join(root, 'node_modules/@vscode/l10n-dev/dist/cli.js');
const committedBundle = path.join(root, 'l10n/bundle.l10n.json');
/** The files whose words users see: the UI layer and the extension's wiring. */
const uiFiles = [...fs.readdirSync(path.join(root, 'src/ui')).map((f) => `src/ui/${f}`), 'src/extension.ts'].filter((f) => f.endsWith('.ts'));

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, fs.readFileSync(path.join(root, file), 'utf8'), ts.ScriptTarget.ES2022, true);
}

function where(node: ts.Node): string {
  const sf = node.getSourceFile();
  return `${sf.fileName}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
}

/** A call that translates: l10n.t(…), vscode.l10n.t(…), or a bare t(…) (which l10n-dev cannot see). */
function isTranslateCall(node: ts.Node): node is ts.CallExpression {
  if (!ts.isCallExpression(node)) {
    return false;
  }
  const callee = node.expression;
  if (ts.isIdentifier(callee)) {
    return callee.text === 't';
  }
  return ts.isPropertyAccessExpression(callee) && callee.name.text === 't' && /(^|\.)l10n$/.test(callee.expression.getText());
}

/**
 * Words for the log, which stays English (see CONTRIBUTING): log.info(…), this.log.warn(…), …; the reason a
 * command gives a guard (`startGuarded(why)`, `stopAndRelease(why)`), which only the log shows; and the name of
 * the log's own output channel.
 */
function isLogCall(node: ts.Node): boolean {
  if (!ts.isCallExpression(node)) {
    return false;
  }
  const callee = node.expression;
  const name = ts.isPropertyAccessExpression(callee) ? callee.name.text : ts.isIdentifier(callee) ? callee.text : '';
  if (/^(startGuarded|stopAndRelease|createOutputChannel)$/.test(name)) {
    return true;
  }
  return ts.isPropertyAccessExpression(callee) && /(^|\.)log$/.test(callee.expression.getText()) && /^(trace|debug|info|warn|error|appendLine)$/.test(name);
}

function walk(node: ts.Node, visit: (n: ts.Node) => void): void {
  visit(node);
  node.forEachChild((c) => walk(c, visit));
}

describe('localization', () => {
  let dir = '';
  let fresh: Record<string, unknown> = {};

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'task-lock-l10n-'));
    // What `npm run l10n` runs, into a folder of the test's own.
    execFileSync(process.execPath, [l10nDev, 'export', '-o', dir, './src'], { cwd: root, stdio: 'pipe' });
    const out = path.join(dir, 'bundle.l10n.json');
    fresh = fs.existsSync(out) ? readJson(out) : {};
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('every l10n.t call of src/ui and extension.ts has a literal message that l10n-dev extracts into the bundle', () => {
    const wrong: string[] = [];
    for (const file of uiFiles) {
      walk(parse(file), (n) => {
        if (!isTranslateCall(n)) {
          return;
        }
        const first = n.arguments[0];
        if (first === undefined || !(ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first))) {
          wrong.push(`${where(n)}: ${n.getText().slice(0, 60)}: the message is not a literal`);
        } else if (!(first.text in fresh)) {
          wrong.push(`${where(n)}: "${first.text}" is not in l10n-dev's export (call it as l10n.t or vscode.l10n.t, in a file that imports 'vscode')`);
        }
      });
    }
    assert.deepEqual(wrong, []);
    assert.ok(Object.keys(fresh).length > 50, `the export holds the UI's messages (${Object.keys(fresh).length})`);
  });

  it('no sentence of src/ui or extension.ts reaches the user around l10n.t: a literal with words is a message of l10n.t or a log line', () => {
    const words = /[A-Za-z]{2,}[ ,;:'’]+[A-Za-z]{2,}/;
    const bypass: string[] = [];
    for (const file of uiFiles) {
      walk(parse(file), (n) => {
        const text = ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) ? n.text : ts.isTemplateExpression(n) ? [n.head.text, ...n.templateSpans.map((s) => s.literal.text)].join('{}') : undefined;
        if (text === undefined || !words.test(text) || ts.isImportDeclaration(n.parent)) {
          return;
        }
        const asMessage = isTranslateCall(n.parent) && n.parent.arguments[0] === n;
        let inLog = false;
        for (let p: ts.Node | undefined = n.parent; p && !inLog; p = p.parent) {
          inLog = isLogCall(p);
        }
        if (!asMessage && !inLog) {
          bypass.push(`${where(n)}: ${JSON.stringify(text)}`);
        }
      });
    }
    assert.deepEqual(bypass, []);
  });

  it('the committed l10n/bundle.l10n.json is what `npm run l10n` makes of the sources now', () => {
    assert.ok(fs.existsSync(committedBundle), 'l10n/bundle.l10n.json exists (npm run l10n)');
    assert.deepEqual(readJson(committedBundle), fresh, 'l10n/bundle.l10n.json is stale: run npm run l10n');
    const manifest = readJson(path.join(root, 'package.json')) as { l10n?: string; scripts: Record<string, string> };
    assert.equal(manifest.l10n, './l10n', 'package.json points VS Code at the bundle');
    assert.match(manifest.scripts.l10n ?? '', /l10n-dev export -o \.\/l10n \.\/src/);
  });

  it('the manifest: every string a user sees is a %key% of package.nls.json, and every key there is used', () => {
    const manifest = readJson(path.join(root, 'package.json'));
    const nlsFile = path.join(root, 'package.nls.json');
    assert.ok(fs.existsSync(nlsFile), 'package.nls.json exists');
    const nls = readJson(nlsFile);
    const visible: Array<[string, unknown]> = [
      ['displayName', manifest.displayName],
      ['description', manifest.description],
    ];
    const c = manifest.contributes as Record<string, unknown>;
    const caps = manifest.capabilities as { untrustedWorkspaces?: { description?: string } };
    visible.push(['capabilities.untrustedWorkspaces.description', caps.untrustedWorkspaces?.description]);
    const configurations = (Array.isArray(c.configuration) ? c.configuration : [c.configuration]) as Array<{ title?: string; properties: Record<string, Record<string, unknown>> }>;
    for (const conf of configurations) {
      visible.push(['configuration.title', conf.title]);
      for (const [name, p] of Object.entries(conf.properties)) {
        for (const field of ['description', 'markdownDescription', 'deprecationMessage', 'markdownDeprecationMessage']) {
          if (p[field] !== undefined) {
            visible.push([`${name}.${field}`, p[field]]);
          }
        }
        for (const field of ['enumDescriptions', 'markdownEnumDescriptions']) {
          ((p[field] as string[] | undefined) ?? []).forEach((d, i) => visible.push([`${name}.${field}[${i}]`, d]));
        }
      }
    }
    for (const cmd of c.commands as Array<Record<string, string>>) {
      visible.push([`${cmd.command}.title`, cmd.title], [`${cmd.command}.category`, cmd.category]);
    }
    for (const def of (c.taskDefinitions ?? []) as Array<{ type: string; properties: Record<string, { description?: string }> }>) {
      for (const [name, p] of Object.entries(def.properties)) {
        visible.push([`taskDefinitions.${def.type}.${name}.description`, p.description]);
      }
    }
    for (const w of (c.walkthroughs ?? []) as Array<Record<string, unknown>>) {
      visible.push([`walkthrough ${String(w.id)}.title`, w.title], [`walkthrough ${String(w.id)}.description`, w.description]);
    }
    const literal = visible.filter(([, v]) => typeof v !== 'string' || !/^%[^%]+%$/.test(v)).map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
    assert.deepEqual(literal, [], 'manifest strings a user sees, not %key% placeholders');
    // Every placeholder anywhere in the manifest has its text, and every text is used.
    const used = new Set(JSON.stringify(manifest).match(/"%[^%"]+%"/g)?.map((k) => k.slice(2, -2)) ?? []);
    assert.deepEqual([...used].filter((k) => typeof nls[k] !== 'string').sort(), [], 'placeholders without a text in package.nls.json');
    assert.deepEqual(Object.keys(nls).filter((k) => !used.has(k)).sort(), [], 'texts of package.nls.json no placeholder uses');
  });
});
