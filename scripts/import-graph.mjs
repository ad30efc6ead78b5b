// Prints the import graph between top-level folders under src/ (and main.ts): one line per arrow,
// with how many import statements make it. Run: node scripts/import-graph.mjs
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const src = path.resolve(import.meta.dirname, '../src');
const folderOf = (file) => {
  const parts = path.relative(src, file).split(path.sep);
  return parts[0] === '..' ? `../${parts[1]}` : parts[0].replace(/\.[jt]s$/, '');
};
const files = readdirSync(src, { recursive: true }).filter((name) => /\.(ts|js)$/.test(name)).map((name) => path.join(src, name));
const arrows = new Map();
for (const file of files) {
  for (const [, spec] of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const [from, to] = [folderOf(file), folderOf(path.resolve(path.dirname(file), spec))];
    if (from !== to) arrows.set(`${from} -> ${to}`, (arrows.get(`${from} -> ${to}`) ?? 0) + 1);
  }
}
for (const [arrow, count] of [...arrows].sort()) console.log(`${arrow}  (${count})`);
