/**
 * sections — ELF section name → BPF program type and expected attach type, as libbpf's
 * section_defs table (tools/lib/bpf/libbpf.c) and iproute2's conventions define them, for the
 * program types xdpsim runs (XDP, SCHED_CLS, SCHED_ACT).
 *
 * libbpf matches names exactly ("xdp", "tc/ingress"), or by prefix for entries that take a
 * suffix; iproute2 loads any section the user names with `sec S` as the program type of the
 * command (tc: SCHED_CLS, `tc action`: SCHED_ACT, ip link xdp: XDP), so an unknown section name
 * is not an error: its type is 'unspec' unless the caller supplies one.
 */

/** BPF_PROG_TYPE_* used by xdpsim (include/uapi/linux/bpf.h, enum bpf_prog_type). */
export const ProgType = {
  UNSPEC: 0,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  XDP: 6,
} as const;
export type ProgType = (typeof ProgType)[keyof typeof ProgType];

/** BPF attach types relevant to XDP and TC (enum bpf_attach_type). */
export const AttachType = {
  NONE: -1,
  XDP_DEVMAP: 33,
  XDP_CPUMAP: 35,
  XDP: 37,
  TCX_INGRESS: 46,
  TCX_EGRESS: 47,
} as const;
export type AttachType = (typeof AttachType)[keyof typeof AttachType];

/** ProgramKind is the short name users and the CLI use for a program type. */
export type ProgramKind = 'xdp' | 'tc' | 'tc_act' | 'unspec';

/** SectionDef is what a section name says about the programs in it. */
export interface SectionDef {
  readonly kind: ProgramKind;
  readonly progType: ProgType;
  readonly attachType: AttachType;
  /** xdp.frags: the program may see multi-buffer frames (BPF_F_XDP_HAS_FRAGS). */
  readonly frags: boolean;
  /** tc/ingress, tcx/ingress → 'ingress'; tc/egress, tcx/egress → 'egress'. */
  readonly direction?: 'ingress' | 'egress';
}

const XDP = (attachType: AttachType, frags: boolean): SectionDef => ({ kind: 'xdp', progType: ProgType.XDP, attachType, frags });
const TC = (direction?: 'ingress' | 'egress'): SectionDef => ({
  kind: 'tc',
  progType: ProgType.SCHED_CLS,
  attachType: direction === 'ingress' ? AttachType.TCX_INGRESS : direction === 'egress' ? AttachType.TCX_EGRESS : AttachType.NONE,
  frags: false,
  ...(direction !== undefined ? { direction } : {}),
});

/** EXACT_SECTIONS are matched by their full name (libbpf SEC_DEF entries without '+'). */
const EXACT_SECTIONS: ReadonlyMap<string, SectionDef> = new Map([
  ['xdp', XDP(AttachType.XDP, false)],
  ['xdp.frags', XDP(AttachType.XDP, true)],
  ['xdp/devmap', XDP(AttachType.XDP_DEVMAP, false)],
  ['xdp.frags/devmap', XDP(AttachType.XDP_DEVMAP, true)],
  ['xdp/cpumap', XDP(AttachType.XDP_CPUMAP, false)],
  ['xdp.frags/cpumap', XDP(AttachType.XDP_CPUMAP, true)],
  ['tc', TC()],
  ['tc/ingress', TC('ingress')],
  ['tc/egress', TC('egress')],
  ['tcx/ingress', TC('ingress')],
  ['tcx/egress', TC('egress')],
  ['classifier', TC()],
  ['action', { kind: 'tc_act', progType: ProgType.SCHED_ACT, attachType: AttachType.NONE, frags: false }],
]);

/**
 * PREFIX_SECTIONS cover the older, sloppy forms libbpf < 1.0 and iproute2 accepted: "xdp/foo",
 * "xdp_foo", "classifier/foo", "action/foo".
 */
const PREFIX_SECTIONS: ReadonlyArray<readonly [string, SectionDef]> = [
  ['xdp/', XDP(AttachType.XDP, false)],
  ['xdp_', XDP(AttachType.XDP, false)],
  ['classifier/', TC()],
  ['action/', { kind: 'tc_act', progType: ProgType.SCHED_ACT, attachType: AttachType.NONE, frags: false }],
];

/** UNSPEC_SECTION is the definition of a section name nobody claims. */
export const UNSPEC_SECTION: SectionDef = { kind: 'unspec', progType: ProgType.UNSPEC, attachType: AttachType.NONE, frags: false };

/** sectionDef returns what a section name says, or UNSPEC_SECTION when it says nothing. */
export function sectionDef(name: string): SectionDef {
  const exact = EXACT_SECTIONS.get(name);
  if (exact !== undefined) return exact;
  for (const [prefix, def] of PREFIX_SECTIONS) if (name.startsWith(prefix)) return def;
  return UNSPEC_SECTION;
}

/** kindDef returns the definition to use for a section the caller assigns to a program kind. */
export function kindDef(kind: ProgramKind): SectionDef {
  switch (kind) {
    case 'xdp':
      return XDP(AttachType.XDP, false);
    case 'tc':
      return TC();
    case 'tc_act':
      return { kind: 'tc_act', progType: ProgType.SCHED_ACT, attachType: AttachType.NONE, frags: false };
    default:
      return UNSPEC_SECTION;
  }
}

/** progTypeName returns bpftool's name of a program type. */
export function progTypeName(t: number): string {
  switch (t) {
    case ProgType.XDP:
      return 'xdp';
    case ProgType.SCHED_CLS:
      return 'sched_cls';
    case ProgType.SCHED_ACT:
      return 'sched_act';
    default:
      return 'unspec';
  }
}

/** scanInt reads a number as sscanf's %i does: 0x-prefixed hex, 0-prefixed octal, or decimal. */
function scanInt(s: string): number {
  if (/^0x/i.test(s)) return parseInt(s.slice(2), 16);
  if (s.length > 1 && s.startsWith('0')) return parseInt(s.slice(1), 8);
  return parseInt(s, 10);
}

/**
 * iproute2TailCallSlot parses iproute2's "<map id>/<key>" section names (tail-call targets), read
 * with sscanf("%i/%i") in iproute2's find_legacy_tail_calls().
 */
export function iproute2TailCallSlot(name: string): { mapId: number; key: number } | undefined {
  const m = /^(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)\/(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)$/i.exec(name);
  if (m === null) return undefined;
  return { mapId: scanInt(m[1]), key: scanInt(m[2]) };
}
