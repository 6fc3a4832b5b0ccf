/**
 * loadObject: maps created in the registry, lddw immediates patched to map handles and global
 * data addresses, callbacks at CODE_BASE, declarative slots wired, the GPL rule, and a program
 * that really runs against its global data (xdp_glob through the interpreter's test-run).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LoadError, UsageError, XdpsimError } from '../../src/errors.js';
import { TestRunner } from '../../src/hooks/testrun.js';
import { OP_LDDW } from '../../src/isa/opcodes.js';
import { loadObject, prepareObject } from '../../src/object/instantiate.js';
import { makeHelperTable } from '../../src/helpers/table.js';
import { deterministicServices } from '../../src/helpers/services.js';
import { makeTailCallResolver } from '../../src/helpers/tail-call.js';
import { parseObject } from '../../src/object/loader.js';
import { CODE_BASE } from '../../src/vm/program.js';
import { createRunEnv } from '../../src/vm/run.js';
import { interpEngine } from '../../src/vm/interp.js';

function imm64(insns: readonly { imm: number }[], i: number): number {
  return (insns[i].imm >>> 0) + (insns[i + 1].imm >>> 0) * 2 ** 32;
}

describe('loadObject', () => {
  it('patches map lddw to handles and data lddw to value addresses (xdp_glob, xdp_calls)', () => {
    for (const file of ['programs/xdp_glob.o', 'programs/xdp_calls.o']) {
      const o = loadObject(file);
      for (const spec of o.spec.programs) {
        const p = o.programs.get(spec.name)!;
        for (const r of spec.mapRefs) {
          const map = o.maps.get(r.map)!;
          const want = r.kind === 'map' ? map.handle : map.lookupAddr(new Uint8Array(4), 0) + r.offset;
          expect(p.insns[r.insn].src).toBe(0);
          expect(imm64(p.insns, r.insn)).toBe(want);
        }
        // No pseudo lddw is left for the engine.
        for (let i = 0; i < p.insns.length; i++) {
          if (p.insns[i].opcode === OP_LDDW) expect(p.insns[i++].src).toBe(0);
        }
      }
    }
  });

  it('turns a callback address into CODE_BASE + 8 * its first instruction', () => {
    const o = loadObject('programs/xdp_calls.o');
    const spec = o.spec.programs.find((p) => p.name === 'xdp_loop')!;
    const at = spec.insns.findIndex((x) => x.opcode === OP_LDDW && x.src === 4);
    const target = at + spec.insns[at].imm + 1;
    expect(spec.functions.find((f) => f.start === target)?.name).toBe('add_step');
    expect(imm64(o.programs.get('xdp_loop')!.insns, at)).toBe(CODE_BASE + 8 * target);
  });

  it('wires declarative PROG_ARRAY and map-in-map slots', () => {
    const t = loadObject('programs/xdp_tailcall.o');
    expect(t.registry.programByName('handle_arp')).toBeDefined();
    expect(t.registry.programByName('handle_arp')?.exe).toBeUndefined();
    const exes = prepareObject(t, interpEngine);
    expect([...exes.keys()].sort()).toEqual(['handle_arp', 'handle_ipv4', 'handle_ipv6', 'xdp_dispatch']);
    expect(t.registry.programByName('handle_arp')?.exe).toBe(exes.get('handle_arp'));
    const m = loadObject('programs/xdp_mim.o');
    const outer = m.maps.get('outer_arr')!;
    const key = (n: number): Uint8Array => new Uint8Array([n, 0, 0, 0]);
    expect(outer.lookupAddr(key(0), 0)).toBe(m.maps.get('counts_a')!.handle);
    expect(outer.lookupAddr(key(1), 0)).toBe(m.maps.get('counts_b')!.handle);
    // iproute2: the map whose id is the outer's inner_id goes to slot inner_idx; "2/0" fills jmp_tc.
    const l = loadObject('programs/tc_legacy.o');
    expect(l.maps.get('outer')!.lookupAddr(key(0), 0)).toBe(l.maps.get('inner_tpl')!.handle);
    expect(l.registry.programByName('tail_small')).toBeDefined();
  });

  it('xdp_tailcall dispatches through its declaratively filled PROG_ARRAY', () => {
    const o = loadObject('programs/xdp_tailcall.o', { cpus: 1 });
    const exes = prepareObject(o, interpEngine);
    const p = o.programs.get('xdp_dispatch')!;
    const helpers = makeHelperTable(o.registry, deterministicServices(), { license: p.license, progType: p.progType });
    const env = createRunEnv(o.mem, { helpers, tailCall: makeTailCallResolver(o.registry) });
    const tr = new TestRunner({ exec: exes.get('xdp_dispatch')!, progType: p.progType, env });
    const frame = (type: number): Uint8Array => {
      const f = new Uint8Array(60);
      f[12] = type >> 8;
      f[13] = type & 0xff;
      return f;
    };
    // IPv4 → handle_ipv4 (PASS), ARP → handle_arp (TX), 0x1234 → empty slot 2: falls through, DROP.
    expect([0x0800, 0x0806, 0x1234, 0x86dd].map((t) => tr.run({ data: frame(t) }).retval)).toEqual([2, 3, 1, 2]);
    const hits = (slot: number): bigint => {
      const v = (o.maps.get('hits')!.lookup(new Uint8Array([slot, 0, 0, 0])) as Uint8Array[])[0];
      return new DataView(v.buffer, v.byteOffset, v.byteLength).getBigUint64(0, true);
    };
    expect([0, 1, 2, 3].map(hits)).toEqual([1n, 1n, 1n, 1n]);
  });

  it('refuses a GPL-only helper (bpf_trace_printk) from a non-GPL program', () => {
    const bytes = new Uint8Array(readFileSync('programs/xdp_glob.o'));
    const spec = parseObject(bytes, { file: 'xdp_glob.o' });
    expect(spec.license).toBe('Dual BSD/GPL');
    // Same length, not in the kernel's list: "Dual BSD/XPL".
    const at = Buffer.from(bytes).indexOf('Dual BSD/GPL');
    bytes.set(new TextEncoder().encode('Dual BSD/XPL'), at);
    try {
      loadObject(bytes, { file: 'xdp_glob.o' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(LoadError);
      expect((e as XdpsimError).code).toBe('E_GPL_ONLY');
      expect((e as XdpsimError).fields.symbol).toBe('bpf_trace_printk');
    }
  });

  it('a missing file is a UsageError', () => {
    expect(() => loadObject('programs/no_such.o')).toThrow(UsageError);
  });

  it('xdp_glob runs against its global data; rodata knobs change its verdicts', () => {
    const frame = (type: number, len: number): Uint8Array => {
      const f = new Uint8Array(len);
      f[12] = type >> 8;
      f[13] = type & 0xff;
      return f;
    };
    const run = (rodata: Record<string, number>): { verdicts: number[]; get: (name: string) => bigint } => {
      const o = loadObject('programs/xdp_glob.o', { rodata });
      const p = o.programs.get('xdp_glob')!;
      const tr = new TestRunner({ exec: interpEngine.prepare(p), progType: p.progType, env: createRunEnv(o.mem, { helpers: new Map() }) });
      const verdicts = [frame(0x0800, 60), frame(0x86dd, 200), frame(0x0806, 42)].map((f) => {
        const r = tr.run({ data: f });
        expect(r.fault).toBeUndefined();
        return r.retval;
      });
      const get = (name: string): bigint => {
        const g = o.spec.globals.find((x) => x.name === name)!;
        const v = o.maps.get(g.map)!.lookup(new Uint8Array(4)) as Uint8Array;
        let out = 0n;
        for (let i = g.size - 1; i >= 0; i--) out = (out << 8n) | BigInt(v[g.offset + i]);
        return out;
      };
      return { verdicts, get };
    };
    const XDP_DROP = 1;
    const XDP_PASS = 2;
    const plain = run({});
    expect(plain.verdicts).toEqual([XDP_PASS, XDP_PASS, XDP_PASS]);
    expect(plain.get('packets_seen')).toBe(1003n);
    expect(plain.get('last_len')).toBe(42n);
    expect(plain.get('passed')).toBe(3n);
    const limited = run({ max_len: 100, drop_ethertype: 0x0806 });
    expect(limited.verdicts).toEqual([XDP_PASS, XDP_DROP, XDP_DROP]);
    expect(limited.get('dropped')).toBe(2n);
    expect(limited.get('passed')).toBe(1n);
  });
});
