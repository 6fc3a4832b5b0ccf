/**
 * errno — the Linux errno values map operations return (negated), include/uapi/asm-generic/errno*.h.
 * ENOTSUPP (524) is kernel-internal but reaches user space from some map operations.
 */

/** Errno lists the errno values used by maps and helpers. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  EOPNOTSUPP: 95,
  EOVERFLOW: 75,
  ENOTSUPP: 524,
} as const;

const NAMES = new Map<number, string>(Object.entries(Errno).map(([k, v]) => [v, k]));

/** errnoName returns "ENOENT" for 2 or -2, or "errno <n>" when unknown. */
export function errnoName(err: number): string {
  return NAMES.get(Math.abs(err)) ?? `errno ${Math.abs(err)}`;
}
