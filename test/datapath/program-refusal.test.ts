/**
 * Programs the kernel refuses at load are refused when the datapath binds them, not when a packet
 * reaches the bad instruction: a helper the program type may not call (check_helper_call).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VerifyError } from '../../src/errors.js';
import { VerifyCode } from '../../src/isa/validate.js';
import { parseElf } from '../../src/object/elf.js';
import { ProgramSet } from '../../src/datapath/programs.js';
import { deterministicServices } from '../../src/helpers/services.js';
import { getEngine } from '../../src/vm/engines.js';

/** withHelper returns xdp_fw.o with the helper call at instruction `insn` of section xdp calling helper `id`. */
function withHelper(insn: number, id: number): string {
  const bytes = new Uint8Array(readFileSync('programs/xdp_fw.o'));
  const sec = parseElf(bytes, 'xdp_fw.o').sections.find((s) => s.name === 'xdp');
  if (sec === undefined) throw new Error('xdp_fw.o has no xdp section');
  const at = sec.offset + 8 * insn;
  expect(bytes[at]).toBe(0x85);
  expect(bytes[at + 1] >> 4).toBe(0); // a helper call, not a local one
  new DataView(bytes.buffer).setInt32(at + 4, id, true);
  const file = join(mkdtempSync(join(tmpdir(), 'xdpsim-refusal-')), 'x.o');
  writeFileSync(file, bytes);
  return file;
}

describe('binding a program checks its helper calls against its program type', () => {
  it('an XDP program calling bpf_skb_store_bytes is refused, naming file, program, instruction and helper', () => {
    // Insn 56 of xdp_fw is `call 0x1` (bpf_map_lookup_elem); make it bpf_skb_store_bytes (9).
    const file = withHelper(56, 9);
    const set = new ProgramSet({ engine: getEngine('interp'), services: deterministicServices(), cpus: 1 });
    let err: unknown;
    try {
      set.load({ file, program: 'xdp_fw' }, 'xdp');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VerifyError);
    const v = err as VerifyError;
    expect(v.code).toBe(VerifyCode.UnknownHelper);
    expect(v.fields).toMatchObject({ file, program: 'xdp_fw', insn: 56, helper: 9 });
    expect(v.message).toContain('bpf_skb_store_bytes');
  });

  it('the unmodified program binds', () => {
    const set = new ProgramSet({ engine: getEngine('interp'), services: deterministicServices(), cpus: 1 });
    expect(set.load({ file: 'programs/xdp_calls.o', program: 'xdp_sum' }, 'xdp').name).toBe('xdp_sum');
  });
});
