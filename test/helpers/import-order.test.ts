/**
 * import-order — helpers/xdp and helpers/skb load in either order. Each order runs in a child
 * process (a fresh module graph, so nothing another test imported can hide a cycle), through tsx
 * over the TypeScript sources.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = `${root}node_modules/.bin/tsx`;

function loadInChild(first: string, second: string): string {
  const script =
    `const a = await import(${JSON.stringify(first)}); const b = await import(${JSON.stringify(second)});` +
    `const s = await import('./src/helpers/skb.ts');` +
    `console.log(JSON.stringify({ a: Object.keys(a).length, b: Object.keys(b).length, n: s.PACKET_HELPERS.length }));`;
  return execFileSync(tsx, ['--eval', `(async () => { ${script} })().catch((e) => { console.error(e.message); process.exit(1); })`], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('helpers import order', () => {
  it.skipIf(!existsSync(tsx))('helpers/xdp first, then helpers/skb', () => {
    const out = JSON.parse(loadInChild('./src/helpers/xdp.ts', './src/helpers/skb.ts')) as { a: number; b: number; n: number };
    expect(out.a).toBeGreaterThan(0);
    expect(out.n).toBeGreaterThan(0);
  });
  it.skipIf(!existsSync(tsx))('helpers/skb first, then helpers/xdp', () => {
    const out = JSON.parse(loadInChild('./src/helpers/skb.ts', './src/helpers/xdp.ts')) as { a: number; b: number; n: number };
    expect(out.b).toBeGreaterThan(0);
    expect(out.n).toBeGreaterThan(0);
  });
  it.skipIf(!existsSync(tsx))('datapath/topology alone', () => {
    const out = execFileSync(tsx, ['--eval', "import('./src/datapath/topology.ts').then((m) => console.log(typeof m.BPF_FIB_LOOKUP_SKIP_NEIGH))"], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('number');
  });
});
