// Writes media/icon.png (128x128 RGBA): a white padlock on a blue rounded square. No image tools needed.
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const N = 128;
const blue = [43, 108, 176, 255];
const white = [255, 255, 255, 255];
const none = [0, 0, 0, 0];

function inRoundRect(x, y, x0, y0, x1, y1, r) {
  if (x < x0 || x > x1 || y < y0 || y > y1) {
    return false;
  }
  const cx = Math.min(Math.max(x, x0 + r), x1 - r);
  const cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

function pixel(x, y) {
  if (!inRoundRect(x, y, 4, 4, 123, 123, 22)) {
    return none;
  }
  // Shackle: a half ring above the body.
  const d = Math.hypot(x - 64, y - 52);
  if (y <= 52 && d >= 18 && d <= 28) {
    return white;
  }
  if (y > 52 && y < 62 && ((x >= 36 && x <= 46) || (x >= 82 && x <= 92))) {
    return white;
  }
  // Body with a keyhole.
  if (inRoundRect(x, y, 30, 60, 98, 108, 8)) {
    const hole = Math.hypot(x - 64, y - 78) <= 8 || (x >= 60 && x <= 68 && y >= 80 && y <= 97);
    return hole ? blue : white;
  }
  return blue;
}

const raw = Buffer.alloc(N * (N * 4 + 1));
for (let y = 0; y < N; y++) {
  raw[y * (N * 4 + 1)] = 0;
  for (let x = 0; x < N; x++) {
    // 4x supersampling keeps the edges smooth.
    const acc = [0, 0, 0, 0];
    for (const [dx, dy] of [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]) {
      const p = pixel(x + dx, y + dy);
      for (let i = 0; i < 4; i++) {
        acc[i] += p[i] * (i < 3 ? p[3] / 255 : 1);
      }
    }
    const a = acc[3] / 4;
    const o = y * (N * 4 + 1) + 1 + x * 4;
    for (let i = 0; i < 3; i++) {
      raw[o + i] = a > 0 ? Math.round(acc[i] / 4 / (a / 255)) : 0;
    }
    raw[o + 3] = Math.round(a);
  }
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) {
    c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return c >>> 0;
});
function crc(buf) {
  let c = 0xffffffff;
  for (const b of buf) {
    c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type), data]);
  const c = Buffer.alloc(4);
  c.writeUInt32BE(crc(td));
  return Buffer.concat([len, td, c]);
}
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(N, 0);
ihdr.writeUInt32BE(N, 4);
ihdr[8] = 8;
ihdr[9] = 6;
const png = Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
writeFileSync(new URL('../media/icon.png', import.meta.url), png);
console.log(`media/icon.png: ${png.length} bytes`);
