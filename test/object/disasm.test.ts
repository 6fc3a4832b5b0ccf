/**
 * Disassembly of every object in programs/ must equal llvm-objdump-16's `-d --no-show-raw-insn`
 * output line for line: against the committed golden files always, and against a live run of
 * llvm-objdump-16 when it is installed (which also catches stale golden files).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { objectListing, programListing } from '../../src/object/listing.js';
import { parseObject } from '../../src/object/loader.js';
import { goldenName, hasBtf, OBJECTS } from './objects.js';


function hasObjdump(): boolean {
  try {
    execFileSync('llvm-objdump-16', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const OBJDUMP = hasObjdump();

function ours(obj: string, source = false): string[] {
  const spec = parseObject(new Uint8Array(readFileSync(`programs/${obj}`)), { file: `programs/${obj}` });
  return objectListing(spec, { source });
}

describe('disassembly matches llvm-objdump-16', () => {
  it('covers every committed object', () => {
    expect(OBJECTS.length).toBeGreaterThanOrEqual(12);
  });

  it.each(OBJECTS)('%s equals the golden llvm-objdump output', (obj) => {
    const golden = readFileSync(`test/object/golden/${goldenName(obj)}`, 'utf8').split('\n');
    expect(ours(obj)).toEqual(golden);
  });

  it.skipIf(!OBJDUMP).each(OBJECTS)('%s equals a live llvm-objdump-16 run (skipped without llvm-objdump-16)', (obj) => {
    const live = execFileSync('llvm-objdump-16', ['-d', '--no-show-raw-insn', `programs/${obj}`], { encoding: 'utf8' }).split('\n').slice(3);
    expect(ours(obj)).toEqual(live);
  });

  it.each(OBJECTS)('%s with source lines is the same listing plus "; " lines from BTF line info (none without BTF)', (obj) => {
    const withSource = ours(obj, true);
    const sourceLines = withSource.filter((l) => l.startsWith('; '));
    if (hasBtf(obj)) expect(sourceLines.length).toBeGreaterThan(0);
    else expect(sourceLines).toEqual([]);
    expect(withSource.filter((l) => !l.startsWith('; '))).toEqual(ours(obj));
  });

  it('puts the C source of a statement above its instructions', () => {
    const lines = ours('xdp_calls.o', true);
    const at = lines.findIndex((l) => l.includes('bpf_loop(16, add_step, &lc, 0);'));
    expect(at).toBeGreaterThan(0);
    // The call to bpf_loop (helper 181) follows within the block.
    const block = lines.slice(at + 1, at + 6);
    expect(block.some((l) => l.endsWith('call 0xb5'))).toBe(true);
  });

  it('a linked program lists appended subprograms with their names', () => {
    const spec = parseObject(new Uint8Array(readFileSync('programs/xdp_calls.o')), { file: 'xdp_calls.o' });
    const p = spec.programs.find((x) => x.name === 'xdp_loop');
    expect(p).toBeDefined();
    const text = programListing(p!).join('\n');
    for (const f of ['add_step', 'store', 'checksum_prefix', 'fold']) expect(text).toContain(`<${f}>: (.text)`);
  });
});
