/**
 * `xdpsim inspect` and `xdpsim disasm` — what they print for the committed objects, their JSON
 * shape, and their errors (a missing file, an unknown program) as UsageErrors.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { registerDisasm } from '../../src/cli/commands/disasm.js';
import { registerInspect, type InspectReport } from '../../src/cli/commands/inspect.js';
import { UsageError, XdpsimError } from '../../src/errors.js';
import { GPL_ONLY_HELPERS } from '../../src/object/instantiate.js';
import { HELPER_DEFS } from '../../src/helpers/table.js';

async function runCli(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerInspect(program);
  registerDisasm(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk);
    return true;
  });
  try {
    await program.parseAsync(['node', 'xdpsim', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe('xdpsim inspect', () => {
  it('--json lists programs, maps, license, BTF and line info', async () => {
    const r = JSON.parse(await runCli(['inspect', 'programs/xdp_tailcall.o', '--json'])) as InspectReport;
    expect(r.license).toBe('GPL');
    expect(r.btf).toBe(true);
    expect(r.lineInfo).toBe(true);
    expect(r.programs.map((p) => [p.name, p.section, p.type])).toEqual([
      ['handle_ipv4', 'xdp', 'xdp'],
      ['handle_ipv6', 'xdp', 'xdp'],
      ['handle_arp', 'xdp', 'xdp'],
      ['xdp_dispatch', 'xdp', 'xdp'],
    ]);
    expect(r.programs.every((p) => p.insns > 0)).toBe(true);
    expect(r.maps.find((m) => m.name === 'jump_table')).toMatchObject({ type: 'prog_array', keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, pinning: 0, keyType: '__u32' });
    const fw = JSON.parse(await runCli(['inspect', 'programs/xdp_fw.o', '--json'])) as InspectReport;
    expect(fw.maps.find((m) => m.name === 'blocklist_v6')).toMatchObject({ keyType: 'struct in6_key', valueType: '__u64' });
    expect(fw.maps.find((m) => m.name === 'verdict_stats')).toMatchObject({ keyType: '__u32', valueType: 'struct counters' });
  });

  it('text output has one line per program and map', async () => {
    const out = await runCli(['inspect', 'programs/xdp_fw.o']);
    expect(out).toMatch(/^ {2}xdp_fw +section xdp +type xdp +\d+ insns$/m);
    for (const m of ['blocklist_v4', 'blocklist_v6', 'blocknet_v4', 'blocked_ports', 'verdict_stats']) expect(out).toMatch(new RegExp(`^  ${m} `, 'm'));
    expect(out).toContain('line info yes');
  });

  it('--section-kind assigns a kind to a section the object does not name', async () => {
    const r = JSON.parse(await runCli(['inspect', 'programs/tc_legacy.o', '--json', '--section-kind', 'ingress_drop_big=tc'])) as InspectReport;
    expect(r.programs.find((p) => p.name === 'cls_drop_big')?.type).toBe('sched_cls');
  });

  it('a missing file is a UsageError naming it', async () => {
    await expect(runCli(['inspect', 'programs/none.o'])).rejects.toSatisfy((e: unknown) => e instanceof UsageError && (e as XdpsimError).fields.file === 'programs/none.o');
  });
});

describe('xdpsim disasm', () => {
  it('prints the llvm-objdump listing with C source lines', async () => {
    const out = await runCli(['disasm', 'programs/xdp_calls.o']);
    const golden = readFileSync('test/object/golden/xdp_calls.objdump', 'utf8');
    const body = out.split('\n').slice(3).filter((l) => !l.startsWith('; '));
    expect(body.join('\n')).toBe(golden + '\n');
    expect(out).toContain('; \tbpf_loop(16, add_step, &lc, 0);');
  });

  it('PROGRAM limits the listing to one function; --no-source drops the C lines', async () => {
    const out = await runCli(['disasm', 'programs/xdp_calls.o', 'fold', '--no-source']);
    expect(out).toContain('<fold>:');
    expect(out).not.toContain('<store>:');
    expect(out).not.toMatch(/^; /m);
  });

  it('--linked shows the program with subprograms appended and maps named', async () => {
    const out = await runCli(['disasm', 'programs/xdp_calls.o', 'xdp_sum', '--linked']);
    expect(out).toContain('<checksum_prefix>: (.text)');
    expect(out).toContain('; map results');
  });

  it('an unknown program is a UsageError', async () => {
    await expect(runCli(['disasm', 'programs/xdp_calls.o', 'nope'])).rejects.toBeInstanceOf(UsageError);
  });
});

describe('GPL-only helpers agree with the helper table', () => {
  it.each(HELPER_DEFS.map((d) => [d.name, d.gplOnly] as const))('bpf_%s gpl_only=%s', (name, gplOnly) => {
    expect(GPL_ONLY_HELPERS.has(name)).toBe(gplOnly);
  });
});
