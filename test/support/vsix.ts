import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

// What a .vsix holds, read from the file itself, and whether a Markdown file's pictures and links resolve
// inside it: the Extensions view renders the packaged README from the installed extension's folder, so a
// relative target that is not in the package is a broken picture or a dead link there, online or not.

/**
 * The entries of a zip archive by name, as stored: the case is kept, because the editor looks pictures up
 * on a case-sensitive file system on Linux. Only what vsce writes is read: stored or deflated, no zip64.
 */
export function readZip(file: string): Map<string, Buffer> {
  const zip = fs.readFileSync(file);
  // The end-of-central-directory record: 22 bytes, followed by a comment of at most 64 KiB.
  let end = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    throw new Error(`${file} is not a zip archive (no end of central directory)`);
  }
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries = new Map<string, Buffer>();
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) {
      throw new Error(`${file}: central directory entry ${n} is damaged`);
    }
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    // The local header's name and extra field may differ in length from the central directory's.
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + size);
    if (method !== 0 && method !== 8) {
      throw new Error(`${file}: ${name} uses compression method ${method}`);
    }
    entries.set(name, method === 8 ? zlib.inflateRawSync(data) : Buffer.from(data));
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return entries;
}

export interface Target {
  kind: 'image' | 'link';
  target: string;
}

/** Code spans and fenced blocks blanked out: brackets in code (`[--wait[=SECONDS]]`) are no links. */
function withoutCode(markdown: string): string {
  return markdown.replace(/^ {0,3}(```+|~~~+)[^\n]*\n[\s\S]*?^ {0,3}\1[^\n]*$/gm, '').replace(/(`+)[\s\S]*?\1/g, '');
}

/** Every picture and link target of a Markdown text: inline, reference definitions and HTML tags. */
export function markdownTargets(markdown: string): Target[] {
  const found: Target[] = [];
  let text = withoutCode(markdown);
  // Pictures first, and blanked, so that a linked picture `[![alt](a.png)](b)` leaves a plain link.
  text = text.replace(/!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[^)]*)?\)/g, (_all, target: string) => {
    found.push({ kind: 'image', target });
    return 'IMAGE';
  });
  for (const m of text.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[^)]*)?\)/g)) {
    found.push({ kind: 'link', target: m[1] });
  }
  for (const m of text.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)) {
    found.push({ kind: 'link', target: m[1] });
  }
  for (const m of text.matchAll(/<(img|a)\s[^>]*?(?:src|href)\s*=\s*["']([^"']+)["']/gi)) {
    found.push({ kind: m[1].toLowerCase() === 'img' ? 'image' : 'link', target: m[2] });
  }
  return found;
}

/** The anchors of a Markdown text's headings, as GitHub and VS Code's Markdown preview make them. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const text = markdown.replace(/^ {0,3}(```+|~~~+)[^\n]*\n[\s\S]*?^ {0,3}\1[^\n]*$/gm, '');
  for (const m of text.matchAll(/^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/gm)) {
    const words = m[1].replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '');
    const base = words.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/**
 * What would not work in the installed extension: a picture that is not in the package (one from the web
 * needs the network), a relative link to a file not in the package, an anchor with no heading. `folder` is
 * where the Markdown file lies inside the package (`extension/`); web links are the reader's own business.
 */
export function brokenTargets(markdown: string, entries: ReadonlySet<string>, folder = 'extension/'): string[] {
  const anchors = headingAnchors(markdown);
  const broken: string[] = [];
  for (const { kind, target } of markdownTargets(markdown)) {
    if (target.startsWith('#')) {
      if (!anchors.has(decodeURIComponent(target.slice(1)))) {
        broken.push(`${kind} ${target}: no heading has that anchor`);
      }
      continue;
    }
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(target)?.[1].toLowerCase();
    if (scheme !== undefined) {
      if (kind === 'image' && scheme !== 'data') {
        broken.push(`image ${target}: not in the package (it needs the network)`);
      } else if (kind === 'link' && !['http', 'https', 'mailto'].includes(scheme)) {
        broken.push(`link ${target}: a ${scheme}: address points outside the package`);
      }
      continue;
    }
    const file = decodeURI(target.replace(/[?#].*$/, ''));
    const inPackage = path.posix.normalize(path.posix.join(folder, file));
    if (file.startsWith('/') || !inPackage.startsWith(folder) || !entries.has(inPackage)) {
      broken.push(`${kind} ${target}: not in the package`);
    }
  }
  return broken;
}
