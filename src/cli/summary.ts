/**
 * summary — the report `xdpsim replay` prints at the end: frames in, verdicts per hook and
 * program, where frames ended, frames out per interface, drop reasons, faults (program,
 * instruction, source line) and the rate.
 */
import { DISPOSITIONS, type Accounting } from '../datapath/accounting.js';
import { formatRate } from './progress.js';

/** SummaryInput is what the summary reports besides the counters. */
export interface SummaryInput {
  readonly captures: readonly string[];
  /** One line per attached program, e.g. "xdp  xdp_fw (programs/xdp_fw.o) on eth0". */
  readonly attached: readonly string[];
  readonly engine: string;
  readonly seconds: number;
  /** CPU seconds of this process over the same span (user + system). */
  readonly cpuSeconds?: number;
  /** A capture error that ended the run early. */
  readonly error?: string;
  readonly notes?: readonly string[];
  /** Maps at the end: name and entry count. */
  readonly maps?: ReadonlyArray<{ name: string; entries: number }>;
}

/**
 * count groups digits by thousands, as toLocaleString('en-US') does for integers; by hand because
 * the first toLocaleString call loads ICU's number formatting, measured at 60 ms of a replay's start.
 */
function count(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US');
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function bytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

function pct(n: number, of: number): string {
  return of === 0 ? '' : ` (${((100 * n) / of).toFixed(1)}%)`;
}

/** formatSummary renders the summary as text lines. */
export function formatSummary(acc: Accounting, s: SummaryInput): string {
  const out: string[] = [];
  const width = Math.max(16, ...[...acc.verdicts.keys()].map((k) => k.length + 2));
  const row = (label: string, text: string): void => {
    out.push(`  ${label.padEnd(width)} ${text}`);
  };
  out.push(`xdpsim replay — ${s.captures.join(', ')}`);
  for (const a of s.attached) row('program', a);
  row('engine', s.engine);
  row('frames in', `${count(acc.framesIn)} (${bytes(acc.bytesIn)})`);
  out.push('');
  out.push('  verdicts');
  for (const [key, m] of acc.verdicts) {
    const parts = [...m.entries()].sort((a, b) => b[1] - a[1]).map(([v, n]) => `${v} ${count(n)}${pct(n, acc.framesIn)}`);
    row(`  ${key}`, parts.join('   '));
  }
  if (acc.verdicts.size === 0) row('  (none)', 'no program ran');
  out.push('');
  out.push('  frames ended');
  for (const d of DISPOSITIONS) {
    const n = acc.dispositions.get(d) ?? 0;
    if (n > 0) row(`  ${d}`, `${count(n)}${pct(n, acc.framesIn)}`);
  }
  for (const [k, n] of [...acc.dropReasons.entries()].sort((a, b) => b[1] - a[1])) row('    why', `${k}: ${count(n)}`);
  if (acc.framesOut.size > 0) row('out per iface', [...acc.framesOut.entries()].map(([i, n]) => `${i} ${count(n)}`).join('   '));
  if (acc.delivered.size > 0) row('to host/xsk', [...acc.delivered.entries()].map(([i, n]) => `${i} ${count(n)}`).join('   '));
  out.push('');
  if (acc.faults.size === 0) {
    row('faults', 'none');
  } else {
    row('faults', `${count([...acc.faults.values()].reduce((a, f) => a + f.count, 0))}`);
    for (const f of acc.faults.values()) {
      row('', `${f.program} insn ${f.insn}${f.source !== undefined ? ` (${f.source})` : ''}: ${f.message} [${f.code}] × ${count(f.count)}, first at frame ${f.firstFrame}`);
    }
  }
  if (s.maps !== undefined && s.maps.length > 0) row('maps', s.maps.map((m) => `${m.name} ${count(m.entries)}`).join('   '));
  const rate = s.seconds > 0 ? acc.framesIn / s.seconds : 0;
  const cpu = s.cpuSeconds !== undefined && s.cpuSeconds > 0 ? `; ${formatRate(acc.framesIn / s.cpuSeconds)} per CPU second` : '';
  row('rate', `${formatRate(rate)} (${count(acc.framesIn)} frames in ${s.seconds.toFixed(3)} s${cpu})`);
  for (const n of s.notes ?? []) row('note', n);
  if (s.error !== undefined) row('stopped', s.error);
  return `${out.join('\n')}\n`;
}
