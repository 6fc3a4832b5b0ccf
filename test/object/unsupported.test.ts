/**
 * Objects using what xdpsim does not implement — CO-RE relocations, kfunc calls, __ksym
 * variables — parse (the program is listed, unlinked, with the reason), disassemble like
 * llvm-objdump, and fail to load with a NotSupportedError naming the feature, the symbol and the
 * instruction, as libbpf opens them and fails at load on a kernel without what they need.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NotSupportedError, UsageError, XdpsimError } from '../../src/errors.js';
import { loadObject } from '../../src/object/instantiate.js';
import { objectListing } from '../../src/object/listing.js';
import { parseObject } from '../../src/object/loader.js';
import { goldenName, UNSUPPORTED_OBJECTS } from './objects.js';

const CASES: ReadonlyArray<readonly [string, string, string]> = [
  ['unsupported/xdp_core.o', 'CO-RE relocation', 'struct xdp_md___local::data'],
  ['unsupported/xdp_kfunc.o', 'kfunc', 'bpf_xdp_metadata_rx_hash'],
  ['unsupported/xdp_ksym.o', 'extern variable', 'init_net'],
];

describe('unsupported features', () => {
  it('covers every object in programs/unsupported', () => {
    expect(CASES.map((c) => c[0]).sort()).toEqual([...UNSUPPORTED_OBJECTS]);
  });

  it.each(CASES)('%s parses, lists its program with the reason, and refuses to load (%s)', (obj, feature, symbol) => {
    const spec = parseObject(new Uint8Array(readFileSync(`programs/${obj}`)), { file: obj });
    expect(spec.programs).toHaveLength(1);
    const reason = spec.programs[0].refused;
    expect(reason).toBeInstanceOf(NotSupportedError);
    expect(reason?.fields.feature).toBe(feature);
    expect(reason?.fields.symbol).toBe(symbol);
    expect(typeof reason?.fields.insn).toBe('number');
    try {
      loadObject(`programs/${obj}`);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(NotSupportedError);
      expect((e as XdpsimError).fields.feature).toBe(feature);
      expect((e as XdpsimError).fields.program).toBe(spec.programs[0].name);
    }
  });

  it.each(CASES.map((c) => c[0]))('%s disassembles like llvm-objdump-16', (obj) => {
    const spec = parseObject(new Uint8Array(readFileSync(`programs/${obj}`)), { file: obj });
    expect(objectListing(spec)).toEqual(readFileSync(`test/object/golden/${goldenName(obj)}`, 'utf8').split('\n'));
  });
});

describe('loading some programs of an object', () => {
  it('`only` resolves and registers the chosen programs and still creates every map', () => {
    const o = loadObject('programs/tc_legacy.o', { only: ['act_mark', 'cls_main'] });
    expect([...o.programs.keys()].sort()).toEqual(['act_mark', 'cls_main']);
    expect(o.maps.size).toBe(o.spec.maps.length);
  });

  it('`only` naming no program is a UsageError', () => {
    expect(() => loadObject('programs/tc_legacy.o', { only: ['nope'] })).toThrow(UsageError);
  });
});
