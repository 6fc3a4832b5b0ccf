/**
 * bundle — the built CLI (`npm run build`: dist/src/cli/main.js and the worker thread's
 * dist/src/cli/commands/replay-worker.js, each one esbuild bundle, scripts/bundle-cli.ts) does
 * what the sources do: the README's main job, `--workers 2` (the bundled worker entry) and
 * `--out`, with the same summaries, map dumps and captures as a run of the sources (tsx).
 * `npm test` builds first; run alone without a build, this file skips and says why.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const WORKER = join(ROOT, 'dist', 'src', 'cli', 'commands', 'replay-worker.js');
const SRC_CLI = join(ROOT, 'src', 'cli', 'main.ts');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const built = existsSync(CLI) && existsSync(WORKER) && readFileSync(WORKER, 'utf8').includes('__xdpsimCreateRequire');
const tmp = mkdtempSync(join(tmpdir(), 'xdpsim-bundle-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SAMPLE = ['replay', join(ROOT, 'pcaps', 'sample.pcap'), '--xdp', join(ROOT, 'programs', 'xdp_fw.o'), '--preload', join(ROOT, 'programs', 'xdp_fw.rules.json')];

/** run returns stdout with the timing line (rate) removed, failing on a non-zero exit. */
function run(argv: readonly string[], source: boolean): string {
  const r = source ? spawnSync(process.execPath, [TSX, SRC_CLI, ...argv], { encoding: 'utf8' }) : spawnSync(process.execPath, [CLI, ...argv], { encoding: 'utf8' });
  expect(r.status, `${source ? 'sources' : 'bundle'}: ${r.stderr}`).toBe(0);
  return r.stdout.split('\n').filter((l) => !/^\s+rate\s/.test(l) && !/^\s+note\s+captures written/.test(l)).join('\n');
}

describe('the built CLI bundle', () => {
  // Without a build there is nothing to test: skipped, and the title says why.
  const test = built ? it : it.skip;
  test(`runs the README main job, with --workers 2 and --out, as the sources do${built ? '' : ' (skipped: no bundle in dist/, run npm run build)'}`, () => {
    for (const extra of [[], ['--workers', '2']]) {
      const bundleOut = join(tmp, `b${extra.length}`);
      const srcOut = join(tmp, `s${extra.length}`);
      const mapsB = join(tmp, `b${extra.length}.json`);
      const mapsS = join(tmp, `s${extra.length}.json`);
      const b = run([...SAMPLE, ...extra, '--out', bundleOut, '--maps', mapsB], false);
      const s = run([...SAMPLE, ...extra, '--out', srcOut, '--maps', mapsS], true);
      expect(b).toBe(s);
      expect(b).toMatch(/frames in\s+196 /);
      expect(readFileSync(mapsB, 'utf8')).toBe(readFileSync(mapsS, 'utf8'));
      const files = readdirSync(srcOut).sort();
      expect(readdirSync(bundleOut).sort()).toEqual(files);
      for (const f of files) expect(readFileSync(join(bundleOut, f)).equals(readFileSync(join(srcOut, f))), f).toBe(true);
    }
  }, 120_000);
});
