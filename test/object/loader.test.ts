/**
 * The loader on the committed objects: programs, sections and kinds, subprogram linking, map
 * definitions (BTF, legacy iproute2, global data), declarative slots, globals and `rodata`
 * overrides, the GPL rule, and the naming rules libbpf uses. Expectations come from the C
 * sources in programs/ (each case names the declaration it checks).
 */
import { readFileSync } from 'node:fs';
import { OBJECTS } from './objects.js';
import { describe, expect, it } from 'vitest';
import { LoadError, UsageError, XdpsimError } from '../../src/errors.js';
import { MapRegistry } from '../../src/maps/registry.js';
import { Memory } from '../../src/vm/memory.js';
import { instantiate, loadObject } from '../../src/object/instantiate.js';
import { parseKconfigText } from '../../src/object/kconfig.js';
import { BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, OP_CALL, OP_LDDW } from '../../src/isa/opcodes.js';
import { MapFlag, MapType, PIN_BY_NAME, PIN_GLOBAL_NS } from '../../src/maps/spec.js';
import { internalMapName, isGplCompatible, objectNameFromFile, parseObject, type ObjectSpec } from '../../src/object/loader.js';
import { AttachType, iproute2TailCallSlot, ProgType, sectionDef } from '../../src/object/sections.js';
import { validateProgram } from '../../src/isa/validate.js';

function instantiateSpec(spec: ObjectSpec): void {
  instantiate(spec, new MapRegistry(new Memory(), { cpus: 1 }));
}

function load(obj: string, opts: Parameters<typeof parseObject>[1] = {}): ObjectSpec {
  return parseObject(new Uint8Array(readFileSync(`programs/${obj}`)), { file: `programs/${obj}`, ...opts });
}

/** uapiEnum reads an enum's values from the system's linux/bpf.h (undefined when it is absent). */
function uapiEnum(name: string): Map<string, number> | undefined {
  let text: string;
  try {
    text = readFileSync('/usr/include/linux/bpf.h', 'utf8');
  } catch {
    return undefined;
  }
  const body = new RegExp(`enum ${name} \\{([^}]*)\\}`).exec(text)?.[1];
  if (body === undefined) return undefined;
  const out = new Map<string, number>();
  let next = 0;
  for (const raw of body.split(',')) {
    const m = /^\s*(?:\/\*.*?\*\/\s*)?([A-Z_0-9]+)\s*(?:=\s*(\d+))?/s.exec(raw.replace(/\/\*[\s\S]*?\*\//g, ''));
    if (m === null) continue;
    const v = m[2] !== undefined ? Number(m[2]) : next;
    out.set(m[1], v);
    next = v + 1;
  }
  return out;
}

describe('numbering matches include/uapi/linux/bpf.h', () => {
  const attach = uapiEnum('bpf_attach_type');
  const prog = uapiEnum('bpf_prog_type');
  it.skipIf(attach === undefined)('attach types (skipped without /usr/include/linux/bpf.h)', () => {
    expect(AttachType.XDP).toBe(attach!.get('BPF_XDP'));
    expect(AttachType.XDP_DEVMAP).toBe(attach!.get('BPF_XDP_DEVMAP'));
    expect(AttachType.XDP_CPUMAP).toBe(attach!.get('BPF_XDP_CPUMAP'));
    // TCX arrived in 6.6; older headers do not have it.
    if (attach!.has('BPF_TCX_INGRESS')) expect([AttachType.TCX_INGRESS, AttachType.TCX_EGRESS]).toEqual([attach!.get('BPF_TCX_INGRESS'), attach!.get('BPF_TCX_EGRESS')]);
  });
  it.skipIf(prog === undefined)('program types (skipped without /usr/include/linux/bpf.h)', () => {
    expect([ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.XDP]).toEqual([prog!.get('BPF_PROG_TYPE_SCHED_CLS'), prog!.get('BPF_PROG_TYPE_SCHED_ACT'), prog!.get('BPF_PROG_TYPE_XDP')]);
  });
});

describe('section names', () => {
  it.each([
    ['xdp', ProgType.XDP, AttachType.XDP, false],
    ['xdp.frags', ProgType.XDP, AttachType.XDP, true],
    ['xdp/devmap', ProgType.XDP, AttachType.XDP_DEVMAP, false],
    ['xdp.frags/cpumap', ProgType.XDP, AttachType.XDP_CPUMAP, true],
    ['tc', ProgType.SCHED_CLS, AttachType.NONE, false],
    ['tc/ingress', ProgType.SCHED_CLS, AttachType.TCX_INGRESS, false],
    ['tcx/egress', ProgType.SCHED_CLS, AttachType.TCX_EGRESS, false],
    ['classifier', ProgType.SCHED_CLS, AttachType.NONE, false],
    ['action', ProgType.SCHED_ACT, AttachType.NONE, false],
    ['my_section', ProgType.UNSPEC, AttachType.NONE, false],
  ] as const)('%s → prog type %i, attach %i', (name, type, attach, frags) => {
    const d = sectionDef(name);
    expect([d.progType, d.attachType, d.frags]).toEqual([type, attach, frags]);
  });
});

describe('iproute2 tail-call sections', () => {
  it.each([
    ['2/0', { mapId: 2, key: 0 }],
    ['0x10/3', { mapId: 16, key: 3 }],
    ['010/07', { mapId: 8, key: 7 }],
    ['classifier', undefined],
    ['2/x', undefined],
    ['09/1', undefined],
  ])('%s → %o', (name, want) => expect(iproute2TailCallSlot(name)).toEqual(want));
});

describe('names as libbpf gives them', () => {
  it.each([
    ['programs/xdp_glob.o', 'xdp_glob'],
    ['/a/b/xdp_tailcall.o', 'xdp_tailcall'],
    ['a.b.c.o', 'a'],
    ['a_name_longer_than_fifteen.o', 'a_name_longer_t'.slice(0, 15)],
  ])('object %s is named %s', (file, name) => expect(objectNameFromFile(file)).toBe(name));

  it.each([
    ['xdp_glob', '.bss', 'xdp_glob.bss'],
    ['xdp_glob', '.rodata', 'xdp_glob.rodata'],
    ['xdp_tailcall', '.data', 'xdp_tail.data'],
    ['xdp_tailcall', '.rodata', 'xdp_tail.rodata'],
    ['xdp_maps', '.rodata.str1.1', '.rodata.str1.1'],
    ['x', '.data.custom_long_name', '.data.custom_lo'],
    ['my-obj', '.bss', 'my_obj.bss'],
  ])('internal map of %s %s is %s', (obj, sec, name) => expect(internalMapName(obj, sec)).toBe(name));

  it('reads a kernel .config as libbpf does', () => {
    expect(parseKconfigText('CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_D="x\\"y"\nCONFIG_E=0x10\nCONFIG_F=-3\n# comment\n')).toEqual({
      CONFIG_A: 'y',
      CONFIG_B: 'm',
      CONFIG_C: 'n',
      CONFIG_D: 'x"y',
      CONFIG_E: 16n,
      CONFIG_F: -3n,
    });
  });

  it.each([
    ['GPL', true],
    ['GPL v2', true],
    ['Dual BSD/GPL', true],
    ['Dual MIT/GPL', true],
    ['MIT', false],
    ['GPLv2', false],
    ['', false],
  ] as const)('license "%s" GPL-compatible: %s', (l, ok) => expect(isGplCompatible(l)).toBe(ok));
});

describe('programs', () => {
  it.each([
    ['xdp_fw.o', [['xdp_fw', 'xdp', 'xdp']]],
    ['xdp_calls.o', [['xdp_sum', 'xdp', 'xdp'], ['xdp_loop', 'xdp', 'xdp']]],
    ['xdp_tailcall.o', [['handle_ipv4', 'xdp', 'xdp'], ['handle_ipv6', 'xdp', 'xdp'], ['handle_arp', 'xdp', 'xdp'], ['xdp_dispatch', 'xdp', 'xdp']]],
    [
      'tc_maps.o',
      [
        ['tc_plain', 'tc', 'tc'],
        ['tc_in', 'tc/ingress', 'tc'],
        ['tc_out', 'tc/egress', 'tc'],
        ['tcx_in', 'tcx/ingress', 'tc'],
        ['tcx_out', 'tcx/egress', 'tc'],
        ['cls', 'classifier', 'tc'],
        ['act', 'action', 'tc_act'],
        ['custom', 'my_custom_section', 'unspec'],
      ],
    ],
    ['tc_legacy.o', [['cls_main', 'classifier', 'tc'], ['tail_small', '2/0', 'tc'], ['cls_drop_big', 'ingress_drop_big', 'unspec'], ['act_mark', 'action', 'tc_act']]],
    [
      'xdp_sections.o',
      [
        ['xdp_frags_len', 'xdp.frags', 'xdp'],
        ['xdp_on_devmap', 'xdp/devmap', 'xdp'],
        ['xdp_frags_on_devmap', 'xdp.frags/devmap', 'xdp'],
        ['xdp_on_cpumap', 'xdp/cpumap', 'xdp'],
      ],
    ],
  ] as const)('%s: programs, sections and kinds', (obj, want) => {
    expect(load(obj).programs.map((p) => [p.name, p.section, p.kind])).toEqual(want);
  });

  it('xdp_sections: frags and devmap/cpumap attach types come from the section name', () => {
    const p = new Map(load('xdp_sections.o').programs.map((x) => [x.name, x]));
    expect([p.get('xdp_frags_len')?.frags, p.get('xdp_frags_len')?.attachType]).toEqual([true, AttachType.XDP]);
    expect([p.get('xdp_on_devmap')?.frags, p.get('xdp_on_devmap')?.attachType]).toEqual([false, AttachType.XDP_DEVMAP]);
    expect([p.get('xdp_frags_on_devmap')?.frags, p.get('xdp_frags_on_devmap')?.attachType]).toEqual([true, AttachType.XDP_DEVMAP]);
    expect(p.get('xdp_on_cpumap')?.attachType).toBe(AttachType.XDP_CPUMAP);
  });

  it('every linked program passes the strict load-time validator (jumps, subprogram boundaries, reachability)', () => {
    for (const obj of OBJECTS) {
      for (const p of load(obj).programs) expect(() => validateProgram(p.insns, { name: p.name, strict: true })).not.toThrow();
    }
  });

  it('a section the caller names gets the kind the caller picks (iproute2 `sec S`)', () => {
    const spec = load('tc_legacy.o', { sectionKinds: { ingress_drop_big: 'tc' } });
    expect(spec.programs.find((p) => p.name === 'cls_drop_big')?.progType).toBe(ProgType.SCHED_CLS);
    expect(load('tc_maps.o', { defaultKind: 'tc' }).programs.find((p) => p.name === 'custom')?.kind).toBe('tc');
  });

  it('xdp_calls: subprograms from .text are appended and every call lands on a function start', () => {
    const spec = load('xdp_calls.o');
    for (const p of spec.programs) {
      const starts = new Map(p.functions.map((f) => [f.start, f.name]));
      expect(p.functions[0]).toMatchObject({ name: p.name, start: 0, section: 'xdp' });
      let calls = 0;
      for (let i = 0; i < p.insns.length; i++) {
        const x = p.insns[i];
        if ((x.opcode === OP_CALL && x.src === BPF_PSEUDO_CALL) || (x.opcode === OP_LDDW && x.src === BPF_PSEUDO_FUNC)) {
          const t = i + x.imm + 1;
          expect(starts.has(t), `${p.name} insn ${i} → ${t}`).toBe(true);
          calls++;
        }
        if (x.opcode === OP_LDDW) i++;
      }
      expect(calls).toBeGreaterThan(2);
    }
    const loop = spec.programs.find((p) => p.name === 'xdp_loop');
    // bpf_loop(16, add_step, ...): the callback address is a BPF_PSEUDO_FUNC lddw to add_step.
    const cb = loop?.insns.findIndex((x) => x.opcode === OP_LDDW && x.src === BPF_PSEUDO_FUNC) ?? -1;
    expect(cb).toBeGreaterThanOrEqual(0);
    const target = cb + loop!.insns[cb].imm + 1;
    expect(loop!.functions.find((f) => f.start === target)?.name).toBe('add_step');
    // fold is called from checksum_prefix, a .text function: reached transitively.
    expect(loop!.functions.map((f) => f.name).sort()).toEqual(['add_step', 'checksum_prefix', 'fold', 'store', 'xdp_loop']);
  });

  it('line info names the C file, line and text of instructions', () => {
    const p = load('xdp_fw.o').programs[0];
    expect(p.lineInfo?.size).toBe(p.insns.length);
    const lines = [...p.lines.values()];
    expect(lines.every((l) => l.file.endsWith('.c') || l.file.endsWith('.h'))).toBe(true);
    expect(lines.some((l) => l.file === './xdp_fw.c' || l.file === 'xdp_fw.c')).toBe(true);
    expect(lines.some((l) => l.text.includes('bpf_map_lookup_elem(&verdict_stats, &verdict)'))).toBe(true);
  });
});

describe('maps', () => {
  it('xdp_fw: BTF maps with types, sizes from key/value types and map_flags', () => {
    const m = new Map(load('xdp_fw.o').maps.map((x) => [x.name, x]));
    expect(m.get('blocklist_v4')).toMatchObject({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4096 });
    expect(m.get('blocklist_v6')).toMatchObject({ type: MapType.HASH, keySize: 16, valueSize: 8 });
    expect(m.get('blocknet_v4')).toMatchObject({ type: MapType.LPM_TRIE, keySize: 8, flags: MapFlag.NO_PREALLOC, maxEntries: 1024 });
    expect(m.get('verdict_stats')).toMatchObject({ type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 16, maxEntries: 5 });
  });

  it('xdp_maps: every map type declared, with the sizes libbpf derives', () => {
    const m = new Map(load('xdp_maps.o').maps.map((x) => [x.name, x]));
    expect(m.get('len_queue')).toMatchObject({ type: MapType.QUEUE, keySize: 0, valueSize: 4 });
    expect(m.get('events')).toMatchObject({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 });
    expect(m.get('perf_events')).toMatchObject({ type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 0 });
    expect(m.get('tx_ports')).toMatchObject({ type: MapType.DEVMAP, valueSize: 8 });
    expect(m.get('cpus')).toMatchObject({ type: MapType.CPUMAP, valueSize: 8 });
    expect(m.get('totals')).toMatchObject({ type: MapType.ARRAY, valueSize: 24 });
    expect([...m.values()].map((x) => x.type).sort((a, b) => a - b)).toEqual(
      [MapType.LRU_HASH, MapType.LRU_PERCPU_HASH, MapType.PERCPU_HASH, MapType.QUEUE, MapType.STACK, MapType.RINGBUF, MapType.PERF_EVENT_ARRAY, MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP, MapType.ARRAY, MapType.ARRAY, MapType.ARRAY].sort((a, b) => a - b),
    );
  });

  it('nobtf/tc_legacy: the same object without BTF loads the same programs and maps, without line info', () => {
    const plain = load('nobtf/tc_legacy.o');
    const withBtf = load('tc_legacy.o');
    expect(plain.btf).toBeUndefined();
    expect(plain.hasLineInfo).toBe(false);
    expect(plain.programs.map((p) => [p.name, p.section, p.insns.length])).toEqual(withBtf.programs.map((p) => [p.name, p.section, p.insns.length]));
    expect(plain.maps).toEqual(withBtf.maps);
    expect(plain.programs.every((p) => p.lineInfo === undefined && p.lines.size === 0)).toBe(true);
  });

  it('tc_legacy: an iproute2 "<id>/<key>" section fills that PROG_ARRAY slot', () => {
    const jmp = load('tc_legacy.o').maps.find((x) => x.name === 'jmp_tc');
    expect(jmp).toMatchObject({ type: MapType.PROG_ARRAY, elf: { id: 2, innerId: 0, innerIdx: 0 } });
    expect(jmp?.initialSlots).toEqual([{ index: 0, ref: 'tail_small' }]);
  });

  it('pinning/xdp_pinned: LIBBPF_PIN_BY_NAME', () => {
    expect(load('pinning/xdp_pinned.o').maps[0]).toMatchObject({ name: 'xdpsim_pinned_counts', pinning: PIN_BY_NAME });
    expect(load('tc_maps.o').maps.every((m) => m.pinning === 0)).toBe(true);
  });

  it('tc_legacy: iproute2 fields, pinning, inner_id/inner_idx', () => {
    const m = new Map(load('tc_legacy.o').maps.map((x) => [x.name, x]));
    expect(m.get('acc_bytes')).toMatchObject({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2, pinning: PIN_GLOBAL_NS });
    expect(m.get('inner_tpl')?.elf).toEqual({ id: 1, innerId: 0, innerIdx: 0 });
    const outer = m.get('outer');
    expect(outer).toMatchObject({ type: MapType.ARRAY_OF_MAPS, inner: { name: 'inner_tpl', type: MapType.ARRAY, valueSize: 4 } });
    expect(outer?.initialSlots).toEqual([{ index: 0, ref: 'inner_tpl' }]);
  });

  it('xdp_tailcall: PROG_ARRAY slots from `.values`', () => {
    const jt = load('xdp_tailcall.o').maps.find((x) => x.name === 'jump_table');
    expect(jt).toMatchObject({ type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 });
    expect(jt?.initialSlots).toEqual([
      { index: 0, ref: 'handle_ipv4' },
      { index: 1, ref: 'handle_ipv6' },
      { index: 3, ref: 'handle_arp' },
    ]);
  });

  it('xdp_mim: inner templates from `__array(values, ...)`, slots naming maps', () => {
    const m = new Map(load('xdp_mim.o').maps.map((x) => [x.name, x]));
    expect(m.get('outer_arr')).toMatchObject({ type: MapType.ARRAY_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 2, inner: { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4 } });
    expect(m.get('outer_arr')?.initialSlots).toEqual([
      { index: 0, ref: 'counts_a' },
      { index: 1, ref: 'counts_b' },
    ]);
    expect(m.get('by_proto')).toMatchObject({ type: MapType.HASH_OF_MAPS, keySize: 2, inner: { type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 64 } });
  });

  it('xdp_glob: .data/.rodata/.bss as one-value arrays with libbpf names, flags and contents', () => {
    const spec = load('xdp_glob.o');
    const m = new Map(spec.maps.map((x) => [x.name, x]));
    expect(m.get('xdp_glob.rodata')).toMatchObject({ type: MapType.ARRAY, keySize: 4, maxEntries: 1, flags: MapFlag.MMAPABLE | MapFlag.RDONLY_PROG, readonlyForProgram: true });
    expect(m.get('xdp_glob.data')).toMatchObject({ flags: MapFlag.MMAPABLE, valueSize: 12 });
    expect(m.get('xdp_glob.bss')).toMatchObject({ valueSize: 48 });
    expect(m.get('xdp_glob.bss')?.initialValue).toBeUndefined();
    const g = new Map(spec.globals.map((x) => [x.name, x]));
    // __u64 packets_seen = 1000; __u32 last_len = 0xdeadbeef;
    const data = m.get('xdp_glob.data')!.initialValue!;
    const dv = new DataView(data.buffer, data.byteOffset);
    expect(dv.getBigUint64(g.get('packets_seen')!.offset, true)).toBe(1000n);
    expect(dv.getUint32(g.get('last_len')!.offset, true)).toBe(0xdeadbeef);
    // Types come from the sections' DATASECs.
    expect([g.get('max_len')?.type, g.get('packets_seen')?.type, g.get('bytes_by_proto')?.type]).toEqual(['const volatile __u32', '__u64', '__u64[4]']);
    // const volatile __u32 max_len = 1514;
    const ro = m.get('xdp_glob.rodata')!.initialValue!;
    expect(new DataView(ro.buffer, ro.byteOffset).getUint32(g.get('max_len')!.offset, true)).toBe(1514);
    // Every global-data lddw names a map and an offset inside it.
    for (const r of spec.programs[0].mapRefs) {
      expect(r.kind).toBe('value');
      expect(r.offset).toBeLessThan(m.get(r.map)!.valueSize);
    }
  });

  it('rodata overrides set `const volatile` knobs before load', () => {
    const spec = load('xdp_glob.o', { rodata: { max_len: 100, drop_ethertype: 0x86dd, verbose: new Uint8Array([1]) } });
    const g = new Map(spec.globals.map((x) => [x.name, x]));
    const ro = spec.maps.find((x) => x.name === 'xdp_glob.rodata')!.initialValue!;
    const dv = new DataView(ro.buffer, ro.byteOffset);
    expect(dv.getUint32(g.get('max_len')!.offset, true)).toBe(100);
    expect(dv.getUint16(g.get('drop_ethertype')!.offset, true)).toBe(0x86dd);
    expect(ro[g.get('verbose')!.offset]).toBe(1);
  });

  it('xdp_kconfig: externs laid out as libbpf does (alignment, size, name) in <obj>.kconfig', () => {
    const spec = load('xdp_kconfig.o', { kconfig: { LINUX_KERNEL_VERSION: 0x061200, CONFIG_VETH: 'm', CONFIG_DEFAULT_HOSTNAME: 'box', CONFIG_BPF_SYSCALL: true } });
    const kc = spec.kconfig!;
    expect([...kc.externs.values()].map((e) => [e.name, e.offset, e.size, e.weak])).toEqual([
      ['CONFIG_VETH', 0, 4, true],
      ['CONFIG_XDPSIM_NOT_A_REAL_OPTION', 4, 4, true],
      ['LINUX_KERNEL_VERSION', 8, 4, false],
      ['CONFIG_BPF_SYSCALL', 12, 1, true],
      ['CONFIG_DEFAULT_HOSTNAME', 13, 16, true],
    ]);
    const m = spec.maps.find((x) => x.name === 'xdp_kco.kconfig');
    expect(m).toMatchObject({ type: MapType.ARRAY, valueSize: 29, flags: MapFlag.MMAPABLE | MapFlag.RDONLY_PROG, readonlyForProgram: true });
    const v = m!.initialValue!;
    expect([...v.subarray(0, 16)]).toEqual([2, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x12, 0x06, 0, 1, 0x62, 0x6f, 0x78]);
    expect(v[16]).toBe(0);
    expect(spec.kconfig?.missing).toEqual([]);
    // Every kconfig lddw points into the map.
    expect(spec.programs[0].mapRefs.filter((r) => r.map === 'xdp_kco.kconfig').length).toBeGreaterThanOrEqual(5);
  });

  it('a strong kconfig extern without a value parses but does not load (E_OBJ_KCONFIG)', () => {
    const spec = load('xdp_kconfig.o');
    expect(spec.kconfig?.missing).toEqual(['LINUX_KERNEL_VERSION']);
    try {
      instantiateSpec(spec);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(LoadError);
      expect((e as XdpsimError).code).toBe('E_OBJ_KCONFIG');
      expect((e as XdpsimError).fields.symbol).toBe('LINUX_KERNEL_VERSION');
    }
    // loadObject supplies LINUX_KERNEL_VERSION from uname on Linux, as libbpf does.
    if (process.platform === 'linux') expect(loadObject('programs/xdp_kconfig.o').maps.has('xdp_kco.kconfig')).toBe(true);
  });

  it.each([
    [{ CONFIG_BPF_SYSCALL: 'm' }],
    [{ CONFIG_BPF_SYSCALL: 2 }],
    [{ CONFIG_DEFAULT_HOSTNAME: 'a-hostname-that-is-too-long' }],
    [{ CONFIG_VETH: 1n << 40n }],
  ])('a bad kconfig value %o is a UsageError', (kconfig) => {
    expect(() => load('xdp_kconfig.o', { kconfig })).toThrow(UsageError);
  });

  it.each([
    [{ no_such_var: 1 }],
    [{ max_len: 1n << 40n }],
    [{ verbose: new Uint8Array(2) }],
    [{ max_len: 1.5 }],
  ])('a bad rodata override %o is a UsageError', (rodata) => {
    try {
      load('xdp_glob.o', { rodata });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      expect((e as XdpsimError).code).toBe('E_OBJ_GLOBAL');
    }
  });
});
