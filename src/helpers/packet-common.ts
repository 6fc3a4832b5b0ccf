/**
 * packet-common — what the XDP and the skb packet helpers share (errno values, bpf_check_mtu
 * results, __dev_via_ifindex). It imports neither helpers/xdp nor helpers/skb, so the two helper
 * families do not import each other: helpers/skb imports helpers/xdp, never the reverse, and either
 * can be loaded first.
 */
import type { DatapathHooks, NetDevice } from '../hooks/datapath.js';

/** E holds the errno values the packet helpers return (negated); ENOTSUPP is the kernel-internal 524. */
export const E = {
  ENOENT: 2,
  E2BIG: 7,
  EAGAIN: 11,
  EAFNOSUPPORT: 97,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  ENODEV: 19,
  EINVAL: 22,
  ERANGE: 34,
  EPROTO: 71,
  EOPNOTSUPP: 95,
  EALREADY: 114,
  ENOTSUPP: 524,
} as const;

/** BPF_MTU_CHK_RET_* results of bpf_check_mtu. */
export const BPF_MTU_CHK_RET_SUCCESS = 0;
export const BPF_MTU_CHK_RET_FRAG_NEEDED = 1;
export const BPF_MTU_CHK_RET_SEGS_TOO_BIG = 2;
/** BPF_MTU_CHK_SEGS flag. */
export const BPF_MTU_CHK_SEGS = 1;

/** devViaIfindex is __dev_via_ifindex: the given device, or the current one for ifindex 0. */
export function devViaIfindex(dp: DatapathHooks, current: number, ifindex: number): NetDevice | undefined {
  return dp.device(ifindex === 0 ? current : ifindex);
}
