/**
 * tc — TC verdicts and cls_bpf direct-action semantics (include/uapi/linux/pkt_cls.h,
 * net/sched/cls_bpf.c cls_bpf_classify, net/core/dev.c tcf_classify / sch_handle_ingress).
 *
 * In direct-action mode the program's return value is the action. cls_bpf_exec_opcode passes
 * TC_ACT_OK, TC_ACT_SHOT, TC_ACT_STOLEN, TC_ACT_TRAP and TC_ACT_REDIRECT through; every other
 * value (TC_ACT_RECLASSIFY, TC_ACT_PIPE, garbage...) becomes TC_ACT_UNSPEC: "continue with the
 * next classifier". After the last classifier of a hook, UNSPEC means the packet goes on as if
 * no program had run.
 */

/** TcAction holds TC_ACT_* values. */
export const TcAction = {
  UNSPEC: -1,
  OK: 0,
  RECLASSIFY: 1,
  SHOT: 2,
  PIPE: 3,
  STOLEN: 4,
  QUEUED: 5,
  REPEAT: 6,
  REDIRECT: 7,
  TRAP: 8,
} as const;
export type TcAction = (typeof TcAction)[keyof typeof TcAction];

/**
 * clsBpfAction maps a direct-action program's return value (r0 as u32) to the action cls_bpf
 * reports (cls_bpf_classify → cls_bpf_exec_opcode).
 */
export function clsBpfAction(retval: number): TcAction {
  const v = retval | 0;
  switch (v) {
    case TcAction.OK:
    case TcAction.SHOT:
    case TcAction.STOLEN:
    case TcAction.TRAP:
    case TcAction.REDIRECT:
      return v;
    default:
      return TcAction.UNSPEC;
  }
}

/** TC_ACTION_NAMES maps each TC_ACT_* value to its name, built once (tcActionName runs per frame). */
const TC_ACTION_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(TcAction).map(([k, n]) => [n as number, `TC_ACT_${k}`]));

/** tcActionName returns "TC_ACT_OK" etc. */
export function tcActionName(v: number): string {
  return TC_ACTION_NAMES.get(v | 0) ?? `TC_ACT_UNKNOWN(${v | 0})`;
}

/** ProgType holds the BPF_PROG_TYPE_* values of the packet hooks. */
export const ProgType = {
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  XDP: 6,
} as const;
export type ProgType = (typeof ProgType)[keyof typeof ProgType];
