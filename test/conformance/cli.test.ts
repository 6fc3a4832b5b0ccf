/**
 * conformance command — output format and exit code of `xdpsim conformance DIR`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerConformance } from '../../src/cli/commands/conformance.js';
import { UsageError } from '../../src/errors.js';

async function runCli(args: string[]): Promise<{ out: string; exitCode: number | undefined }> {
  const program = new Command().exitOverride();
  registerConformance(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk);
    return true;
  });
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'xdpsim', 'conformance', ...args]);
  } finally {
    spy.mockRestore();
  }
  const exitCode = process.exitCode as number | undefined;
  process.exitCode = undefined;
  return { out, exitCode };
}

function corpus(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'xdpsim-conf-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('xdpsim conformance', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  it('prints one line per failure and the summary; exit code 1 when a test fails', async () => {
    const dir = corpus({
      'ok.data': '-- asm\nmov %r0, 3\nexit\n-- result\n0x3\n',
      'wrong.data': '-- asm\nmov %r0, 4\nexit\n-- result\n0x3\n',
      'skipme.data': '-- asm\nexit\n-- what is this\n',
      'refused.data': '-- asm\nfrob %r0\nexit\n-- result\n1\n',
    });
    const { out, exitCode } = await runCli([dir]);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^FAIL refused\.data: expected r0 = 0x1, refused by the assembler: line 2: .*E_ASM_MNEMONIC/);
    expect(lines[1]).toMatch(/^FAIL wrong\.data: expected r0 = 0x3, got r0 = 0x4$/);
    expect(lines[2]).toBe('1 passed, 2 failed, 1 skipped');
    expect(exitCode).toBe(1);
  });

  it('exit code stays 0 when nothing fails; --verbose lists passes', async () => {
    const dir = corpus({ 'ok.data': '-- asm\nmov %r0, 3\nexit\n-- result\n0x3\n' });
    const { out, exitCode } = await runCli([dir, '--verbose', '--engine', 'interp']);
    expect(out).toBe('PASS ok.data: r0 = 0x3\n1 passed, 0 failed, 0 skipped\n');
    expect(exitCode).toBeUndefined();
  });

  it('refuses an unknown engine and a missing directory with UsageErrors', async () => {
    const dir = corpus({});
    await expect(runCli([dir, '--engine', 'nope'])).rejects.toMatchObject({ code: 'E_UNKNOWN_ENGINE' });
    await expect(runCli([join(dir, 'missing')])).rejects.toBeInstanceOf(UsageError);
  });
});
