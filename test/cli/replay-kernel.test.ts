/**
 * `xdpsim replay --compare-kernel`: every XDP and TC program of programs/*.o on
 * pcaps/parity/all.pcap, each frame through BPF_PROG_TEST_RUN and through `--mode test-run`;
 * the command must report no difference (retval, err, data_out, data_size_out, final maps).
 * Skipped with the reason when the kernel cannot run programs here (not root, no helper binary).
 * Without a kernel, --compare-kernel must fail with a message saying why.
 */
import { describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { registerReplay } from '../../src/cli/commands/replay.js';
import { KernelTestRunner } from '../../src/kernel/testrun.js';
import { loadObject } from '../../src/object/instantiate.js';
import { UsageError } from '../../src/errors.js';

const ROOT = join(import.meta.dirname, '..', '..');
const PROGRAMS = join(ROOT, 'programs');
const ALL = join(ROOT, 'pcaps', 'parity', 'all.pcap');
const avail = await KernelTestRunner.open();
if (avail.ok) await avail.runner.close();
/** Objects whose results depend on clocks or randomness, or on the host's kernel config. */
const NONDETERMINISTIC = new Set(['xdp_maps.o', 'xdp_kconfig.o']);

async function runCli(args: string[]): Promise<{ out: string; code: number }> {
  const program = new Command().exitOverride();
  registerReplay(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk);
    return true;
  });
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'xdpsim', 'replay', ...args]);
    return { out, code: Number(process.exitCode ?? 0) };
  } finally {
    process.exitCode = before;
    spy.mockRestore();
  }
}

const cases: Array<[string, string, string]> = [];
const objects = ['.', 'hooks', 'bench'].flatMap((d) => readdirSync(join(PROGRAMS, d)).filter((x) => x.endsWith('.o') && !NONDETERMINISTIC.has(x)).map((x) => join(d, x)));
for (const f of objects) {
  for (const p of loadObject(join(PROGRAMS, f)).programs.values()) {
    if (p.progType === 6 && !p.section.includes('/')) cases.push([f, p.name, '--xdp']);
    if (p.progType === 3 || p.progType === 4) cases.push([f, p.name, '--tc-ingress']);
  }
}

describe.skipIf(!avail.ok)(`replay --compare-kernel ${avail.ok ? '' : `(skipped: ${avail.reason})`}`, () => {
  it.each(cases)('%s:%s (%s) agrees with the kernel on every frame and the final maps', async (file, prog, flag) => {
    const r = await runCli([ALL, flag, `${join(PROGRAMS, file)}:${prog}`, '--compare-kernel']).catch((e: unknown) => e);
    if (r instanceof UsageError && r.code === 'E_NO_KERNEL') {
      // libbpf on this machine cannot open the object (legacy iproute2 map sections): nothing to compare.
      expect(r.message).toMatch(/cannot open/);
      return;
    }
    const { out, code } = r as { out: string; code: number };
    expect(out).toMatch(/kernel\s+identical on all 95 frames and the final maps/);
    expect(code).toBe(0);
  });
});

describe.skipIf(avail.ok)('replay --compare-kernel without a kernel', () => {
  it('fails with the reason', async () => {
    const err = await runCli([ALL, '--xdp', join(PROGRAMS, 'xdp_fw.o'), '--compare-kernel']).catch((e: unknown) => e);
    expect((err as UsageError).code).toBe('E_NO_KERNEL');
  });
});
